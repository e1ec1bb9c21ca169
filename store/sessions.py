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
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from store.db import StoreOrSession, transaction
from store.models import SignInThrottle, User, WebSession
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
        # A new password from an administrator also lifts a lock of failed sign-ins.
        session.execute(delete(SignInThrottle).where(SignInThrottle.key == user_key(user_id)))
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


def forget_expired(target: StoreOrSession, now: dt.datetime, window: dt.timedelta) -> int:
    """Remove sessions past their lifetime, and failed sign-ins whose window and lock are both
    over; returns how many sessions."""
    with transaction(target) as session:
        session.execute(
            delete(SignInThrottle).where(
                SignInThrottle.first_at <= now - window,
                or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until <= now),
            )
        )
        result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- failed sign-ins


@dataclass(frozen=True)
class Throttle:
    """Failed sign-ins count within ``window``; reaching a key's limit locks it for ``lock``
    (等保 2.0 登录失败处理: limit failed attempts, lock, and say until when). The limits are
    per key: one for a user id (whatever address tries it), one for a client address
    (whatever user ids it tries)."""

    window: dt.timedelta
    lock: dt.timedelta


def user_key(user_id: str) -> str:
    return f"user:{user_id.casefold()[:150]}"


def address_key(address: str) -> str:
    return f"ip:{address[:150]}"


def locked_until(target: StoreOrSession, keys: list[str], now: dt.datetime) -> dt.datetime | None:
    """Until when sign-in is refused for any of ``keys`` (None: it is not)."""
    with transaction(target) as session:
        found = session.scalars(
            select(SignInThrottle.locked_until).where(
                SignInThrottle.key.in_(keys), SignInThrottle.locked_until > now
            )
        ).all()
    return max((u for u in found if u is not None), default=None)


def failed(
    target: StoreOrSession, keys: dict[str, int], now: dt.datetime, throttle: Throttle
) -> dt.datetime | None:
    """Count a failed sign-in against each key (with the failures that lock it); until when
    the attempt locked one of them, if it did."""
    until: dt.datetime | None = None
    for key, limit in keys.items():
        for _ in range(2):  # a concurrent first failure of the same key: count on its row
            try:
                with transaction(target) as session:
                    row = session.get(SignInThrottle, key, with_for_update=True)
                    if row is None:
                        row = SignInThrottle(key=key, failures=0, first_at=now)
                        session.add(row)
                    elif now - row.first_at > throttle.window:
                        row.failures, row.first_at = 0, now
                    row.failures += 1
                    if row.failures >= limit:
                        row.locked_until = now + throttle.lock
                        row.failures, row.first_at = 0, now
                        until = max(until or row.locked_until, row.locked_until)
                break
            except IntegrityError:
                continue
    return until


def succeeded(target: StoreOrSession, user_id: str) -> None:
    """A right password clears the user's failures (not those of the address)."""
    with transaction(target) as session:
        session.execute(delete(SignInThrottle).where(SignInThrottle.key == user_key(user_id)))


def locks(target: StoreOrSession, now: dt.datetime) -> dict[str, dt.datetime]:
    """The user ids locked now, with until when (for the administrator's page)."""
    with transaction(target) as session:
        rows = session.execute(
            select(SignInThrottle.key, SignInThrottle.locked_until).where(
                SignInThrottle.key.like("user:%"), SignInThrottle.locked_until > now
            )
        ).all()
    return {key.removeprefix("user:"): until for key, until in rows if until is not None}
