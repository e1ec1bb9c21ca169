"""Users and bearer tokens. Tokens are random secrets stored as SHA-256 digests.

A token has 256 bits of entropy, so an unsalted fast hash is enough to make a leaked table
useless, and it allows looking a token up by its digest in one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import ApiToken, Task, User
from store.writes import StoreOrSession, transaction
from workflows.contracts import Actor, Role, TaskState

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


class LastAdminError(ValueError):
    """The change would leave no enabled administrator holding a live token."""

    def __init__(self) -> None:
        super().__init__(
            "不能停用最后一位可用的管理员，也不能吊销其最后一个令牌 / the last enabled"
            " administrator cannot be disabled, demoted or lose their last token"
        )


class TokenInfo(BaseModel):
    """A token as administrators list it: never the secret, which is shown once at issue."""

    id: int
    label: str | None = None
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class UserDetail(UserInfo):
    tokens: list[TokenInfo]
    claimed_tasks: int
    """Open tasks the user holds: after disabling them, a supervisor reassigns these."""


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


def user_detail(target: StoreOrSession, user_id: str) -> UserDetail | None:
    """The user with their tokens and the number of open tasks they hold."""
    with transaction(target) as session:
        row = session.get(User, user_id)
        if row is None:
            return None
        tokens = session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)
        )
        claimed = session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.assignee == user_id, Task.state == TaskState.claimed.value)
        )
        return UserDetail(
            **_info(row).model_dump(),
            tokens=[_token(t) for t in tokens],
            claimed_tasks=claimed or 0,
        )


def _token(t: ApiToken) -> TokenInfo:
    return TokenInfo(id=t.id, label=t.label, created_at=t.created_at, revoked_at=t.revoked_at)


def user_details(target: StoreOrSession) -> list[UserDetail]:
    """Every user, by id, with their tokens and open tasks held, in three queries."""
    with transaction(target) as session:
        users = session.scalars(select(User).order_by(User.id)).all()
        tokens: dict[str, list[TokenInfo]] = {}
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            tokens.setdefault(t.user_id, []).append(_token(t))
        held = session.execute(
            select(Task.assignee, func.count())
            .where(Task.state == TaskState.claimed.value, Task.assignee.is_not(None))
            .group_by(Task.assignee)
        ).all()
        claimed = {str(who): int(n) for who, n in held}
        return [
            UserDetail(
                **_info(u).model_dump(),
                tokens=tokens.get(u.id, []),
                claimed_tasks=claimed.get(u.id, 0),
            )
            for u in users
        ]


def _lock_admins(session: Session) -> None:
    session.scalars(
        select(User.id).where(User.role == Role.admin.value).order_by(User.id).with_for_update()
    ).all()


def _usable_admins(session: Session, *, without_user: str = "", without_token: int = 0) -> int:
    """Enabled administrators holding a live token, leaving one user or one token aside.

    The administrators' rows are locked (PostgreSQL) so that two administrators disabling
    each other at once cannot both succeed; SQLite serialises writers by itself.
    """
    admins = session.scalars(
        select(User.id)
        .where(User.role == Role.admin.value, User.disabled.is_(False), User.id != without_user)
        .order_by(User.id)
        .with_for_update()
    ).all()
    if not admins:
        return 0
    live = session.scalars(
        select(ApiToken.user_id).where(
            ApiToken.user_id.in_(admins),
            ApiToken.revoked_at.is_(None),
            ApiToken.id != without_token,
        )
    ).all()
    return len(set(live))


def update_user(
    target: StoreOrSession,
    user_id: str,
    *,
    name: str | None = None,
    role: Role | None = None,
    department: str | None = None,
    disabled: bool | None = None,
    set_department: bool = False,
) -> UserInfo | None:
    """Change a user; None if there is no such user. ``department`` is written only with
    ``set_department`` (so that it can be cleared). A disabled user's tokens stop at once.

    Raises LastAdminError rather than leave nobody able to administer.
    """
    with transaction(target) as session:
        # Administrators' rows first, always in id order, then the user: two administrators
        # changing each other at once queue up instead of deadlocking.
        _lock_admins(session)
        row = session.get(User, user_id, with_for_update=True)
        if row is None:
            return None
        was_admin = row.role == Role.admin.value and not row.disabled
        if name is not None:
            row.name = name
        if role is not None:
            row.role = role.value
        if set_department:
            row.department = department
        if disabled is not None:
            row.disabled = disabled
        still_admin = row.role == Role.admin.value and not row.disabled
        if was_admin and not still_admin and not _usable_admins(session, without_user=user_id):
            raise LastAdminError()
        session.flush()
        return _info(row)


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
    """Revoke a token; False if there is no such live token.

    Raises LastAdminError for the last live token of the last enabled administrator.
    """
    with transaction(target) as session:
        _lock_admins(session)
        owner = session.execute(
            select(User.role, User.disabled)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        ).first()
        if owner is None:
            return False
        if (
            owner.role == Role.admin.value
            and not owner.disabled
            and not _usable_admins(session, without_token=token_id)
        ):
            raise LastAdminError()
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def set_disabled(target: StoreOrSession, user_id: str, disabled: bool) -> bool:
    """Disable (or enable again) a user: a disabled user's tokens stop working at once, and
    the user cannot be given tasks. False if there is no such user."""
    return update_user(target, user_id, disabled=disabled) is not None


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
