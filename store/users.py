"""Users and bearer tokens. Tokens are random secrets stored as SHA-256 digests.

A token has 256 bits of entropy, so an unsalted fast hash is enough to make a leaked table
useless, and it allows looking a token up by its digest in one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from store.models import ApiToken, User
from store.writes import StoreOrSession, transaction
from workflows.contracts import Actor, Role

TOKEN_PREFIX = "ot_"


class UserInfo(BaseModel):
    id: str
    name: str
    role: Role
    department: str | None = None
    disabled: bool = False

    def actor(self) -> Actor:
        """The workflow's view of this user."""
        return Actor(id=self.id, role=self.role, department=self.department, name=self.name)


class UserExistsError(ValueError):
    """A user with that id exists already."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: User) -> UserInfo:
    return UserInfo(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        department=row.department,
        disabled=row.disabled,
    )


def create_user(
    target: StoreOrSession, *, id: str, name: str, role: Role, department: str | None = None
) -> UserInfo:
    """Add a user; raises UserExistsError if the id is taken."""
    with transaction(target) as session:
        if session.get(User, id) is not None:
            raise UserExistsError(f"用户 {id} 已存在 / user {id} exists already")
        row = User(
            id=id,
            name=name,
            role=role.value,
            department=department,
            disabled=False,
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.flush()
        return _info(row)


def get_user(target: StoreOrSession, user_id: str) -> UserInfo | None:
    """The user with that id."""
    with transaction(target) as session:
        row = session.get(User, user_id)
        return _info(row) if row else None


def list_users(target: StoreOrSession) -> list[UserInfo]:
    """Every user, by id."""
    with transaction(target) as session:
        return [_info(r) for r in session.scalars(select(User).order_by(User.id))]


def issue_token(target: StoreOrSession, user_id: str, label: str | None = None) -> tuple[int, str]:
    """A new token for the user: (token id, the plain token, shown only now)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(target) as session:
        row = ApiToken(
            user_id=user_id,
            token_hash=_digest(token),
            label=label,
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.flush()
        return row.id, token


def revoke_token(target: StoreOrSession, token_id: int) -> bool:
    """Revoke a token; False if there is no such live token."""
    with transaction(target) as session:
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def set_disabled(target: StoreOrSession, user_id: str, disabled: bool) -> bool:
    """Disable (or enable again) a user: a disabled user's tokens stop working at once, and
    the user cannot be given tasks. False if there is no such user."""
    with transaction(target) as session:
        result = session.execute(update(User).where(User.id == user_id).values(disabled=disabled))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def user_for_token(target: StoreOrSession, token: str) -> UserInfo | None:
    """The enabled user owning a live token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with transaction(target) as session:
        row = session.execute(
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        ).scalar_one_or_none()
        if row is None or row.disabled:
            return None
        return _info(row)


def ensure_admin(target: StoreOrSession, token: str) -> bool:
    """Register ``token`` for a user ``admin`` unless an admin exists; True if it did.

    Safe when several API replicas start at once: the user and its token are written in one
    transaction, and a replica that loses the race finds the admin there and does nothing.
    """
    try:
        with transaction(target) as session:
            if session.scalars(select(User).where(User.role == Role.admin.value)).first():
                return False
            now = dt.datetime.now(dt.UTC)
            session.add(
                User(
                    id="admin",
                    name="管理员 Administrator",
                    role=Role.admin.value,
                    department=None,
                    disabled=False,
                    created_at=now,
                )
            )
            session.flush()
            session.add(
                ApiToken(
                    user_id="admin", token_hash=_digest(token), label="bootstrap", created_at=now
                )
            )
    except IntegrityError:
        return False  # another replica registered it first
    return True
