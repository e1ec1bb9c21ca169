"""Users and tokens: hashed at rest, revocable, one bootstrap admin even with racing replicas."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from store.db import Store
from store.models import ApiToken
from store.users import (
    create_user,
    ensure_admin,
    issue_token,
    list_users,
    revoke_token,
    user_for_token,
)
from workflows.contracts import Role


def test_tokens_are_stored_hashed_and_revocable(store: Store) -> None:
    create_user(store, id="scjg-1", name="审批员", role=Role.caseworker, department="YZ-SCJG")
    token_id, token = issue_token(store, "scjg-1", "laptop")
    with store.session() as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in stored
    assert len(stored[0]) == 64
    user = user_for_token(store, token)
    assert user is not None
    assert (user.id, user.department) == ("scjg-1", "YZ-SCJG")
    assert revoke_token(store, token_id)
    assert not revoke_token(store, token_id)
    assert user_for_token(store, token) is None
    assert user_for_token(store, "not-a-token") is None


def test_one_bootstrap_admin_when_replicas_race(store: Store) -> None:
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: ensure_admin(store, "ot_bootstrap-secret"), range(4)))
    assert outcomes.count(True) == 1
    assert [u.id for u in list_users(store) if u.role is Role.admin] == ["admin"]
    admin = user_for_token(store, "ot_bootstrap-secret")
    assert admin is not None
    assert admin.role is Role.admin
    assert not ensure_admin(store, "ot_other")
