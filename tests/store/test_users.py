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
    user_detail,
    user_details,
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


def test_every_user_s_detail_at_once_is_each_one_s_detail(store: Store) -> None:
    from store.writes import record
    from tests.store.factories import record_input, task_row
    from workflows.contracts import TaskState

    create_user(store, id="scjg-1", name="审批员", role=Role.caseworker, department="YZ-SCJG")
    create_user(store, id="sw-1", name="税务", role=Role.caseworker, department="YZ-SW")
    create_user(store, id="boss", name="监督", role=Role.supervisor)
    issue_token(store, "scjg-1", "laptop")
    revoke_token(store, issue_token(store, "scjg-1", "old")[0])
    record(
        store,
        record_input(
            "C-1",
            tasks=[
                task_row("C-1", "a", last_seq=3, state=TaskState.claimed, assignee="scjg-1"),
                task_row("C-1", "b", last_seq=3, state=TaskState.claimed, assignee="scjg-1"),
                task_row("C-1", "c", last_seq=3, state=TaskState.approved, assignee="sw-1"),
            ],
        ),
    )
    everyone = user_details(store)
    assert [u.id for u in everyone] == ["boss", "scjg-1", "sw-1"]
    assert everyone == [user_detail(store, u.id) for u in everyone]
    assert [u.claimed_tasks for u in everyone] == [0, 2, 0]
    assert [len(u.tokens) for u in everyone] == [0, 2, 0]
