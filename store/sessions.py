"""People signed in to the pages: passwords (Argon2id) and sessions with their form tokens.

Bearer tokens stay for machines (store.users). A person signs in with their user id and
password; the session's secret goes to the browser in an HttpOnly cookie and is stored here as
its SHA-256 (256 random bits: a fast hash is enough, and it is looked up in one query). Every
session carries its own form token (CSRF), which each form and htmx request sends back. A
session ends when its person signs out, after ``idle`` without a request, at ``lifetime``
after sign-in whatever the activity, and at once when the user is disabled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update

from store.db import StoreOrSession, transaction
from store.models import User, WebSession
from store.users import UserInfo, _info

HASHER = PasswordHasher()
"""Argon2id with the library's current recommended parameters (RFC 9106 low-memory profile)."""
MIN_PASSWORD = 10
"""Characters a password must have at least."""
_DUMMY = HASHER.hash("not a password of anyone")
"""Verified against when the user does not exist, so that a wrong user id takes as long as a
wrong password (no user enumeration by timing)."""


class PasswordRefused(ValueError):  # noqa: N818 (the name the callers use)
    """The new password is too weak to be set."""


@dataclass(frozen=True)
class SignedIn:
    user: UserInfo
    csrf: str
    expires_at: dt.datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_password(password: str, user_id: str) -> None:
    """Refuse a password too short, or the user's own id."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRefused(
            f"密码至少 {MIN_PASSWORD} 个字符 / a password has at least {MIN_PASSWORD} characters"
        )
    if password.casefold() == user_id.casefold():
        raise PasswordRefused("密码不能与用户名相同 / the password cannot be the user name")


def set_password(target: StoreOrSession, user_id: str, password: str) -> bool:
    """Set a user's password (ends their sessions); False if there is no such user."""
    check_password(password, user_id)
    hashed = HASHER.hash(password)
    with transaction(target) as session:
        result = session.execute(
            update(User).where(User.id == user_id).values(password_hash=hashed)
        )
        done = result.rowcount  # type: ignore[attr-defined]
        session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return bool(done)


def sign_in(
    target: StoreOrSession,
    user_id: str,
    password: str,
    *,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> tuple[str, SignedIn] | None:
    """A new session for the user if the password is theirs and they are enabled: the cookie's
    secret and what the session holds. None otherwise (whichever was wrong)."""
    with transaction(target) as session:
        row = session.get(User, user_id)
        stored = row.password_hash if row is not None else None
        try:
            HASHER.verify(stored or _DUMMY, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or stored is None or row.disabled:
            return None
        if HASHER.check_needs_rehash(stored):
            row.password_hash = HASHER.hash(password)
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + lifetime
        session.add(
            WebSession(
                id=_digest(secret),
                user_id=row.id,
                csrf=csrf,
                created_at=now,
                seen_at=now,
                expires_at=expires,
            )
        )
        return secret, SignedIn(_info(row), csrf, expires)


def session_for(
    target: StoreOrSession, secret: str, *, now: dt.datetime, idle: dt.timedelta
) -> SignedIn | None:
    """The live session of that cookie secret (its user enabled), marked seen now; None when it
    does not exist, has expired or was idle too long (then it is removed)."""
    key = _digest(secret)
    with transaction(target) as session:
        found = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.id == key)
        ).first()
        if found is None:
            return None
        web, user = found
        if user.disabled or now >= web.expires_at or now - web.seen_at > idle:
            session.execute(delete(WebSession).where(WebSession.id == key))
            return None
        web.seen_at = now
        return SignedIn(_info(user), web.csrf, web.expires_at)


def sign_out(target: StoreOrSession, secret: str) -> None:
    with transaction(target) as session:
        session.execute(delete(WebSession).where(WebSession.id == _digest(secret)))


def forget_expired(target: StoreOrSession, now: dt.datetime) -> int:
    """Remove sessions past their lifetime; returns how many."""
    with transaction(target) as session:
        result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]
