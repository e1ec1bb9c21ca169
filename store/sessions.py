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
from typing import Any, Literal, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, and_, case, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from store.db import StoreOrSession, transaction
from store.models import SignInThrottle, User, UTCDateTime, WebSession
from store.users import UserInfo, _info
from store.writes import insert_statement

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
    """Sign-in attempts count within ``window``; a key's attempts past its limit lock it for
    ``lock`` (等保 2.0 登录失败处理: limit failed attempts, lock, and say until when). The
    limits are per key: one for a user id (whatever address tries it), one for a client
    address (whatever user ids it tries)."""

    window: dt.timedelta
    lock: dt.timedelta


KeyKind = Literal["user", "address"]


def user_key(user_id: str) -> str:
    return f"user:{user_id[:150]}"


def address_key(address: str) -> str:
    return f"address:{address[:150]}"


def _bump(session: Session, key: str, now: dt.datetime, window: dt.timedelta) -> tuple[int, Any]:
    """Count one attempt on ``key`` in a single statement (no lost count between concurrent
    attempts, on either backend): a new window after ``window``, nothing while locked."""
    table = cast(Table, SignInThrottle.__table__)
    c = table.c
    at = literal(now, UTCDateTime())
    fresh = c.first_at <= literal(now - window, UTCDateTime())
    held = and_(c.locked_until.is_not(None), c.locked_until > at)
    statement = (
        insert_statement(session, table)
        .values(key=key, failures=1, first_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "failures": case((held, c.failures), (fresh, 1), else_=c.failures + 1),
                "first_at": case((held, c.first_at), (fresh, at), else_=c.first_at),
            },
        )
        .returning(c.failures, c.locked_until)
    )
    failures, until = session.execute(statement).one()
    return int(failures), until


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt as counted before its password is checked."""

    counts: dict[str, int]
    """Attempts of each key in its window, this one included."""
    locked: dict[str, dt.datetime]
    """Keys locked now, with until when: the attempt is refused without a password check."""


def begin_attempt(
    target: StoreOrSession, limits: dict[str, int], now: dt.datetime, throttle: Throttle
) -> Attempt:
    """Count an attempt against each key before its password is hashed, so that attempts sent
    at once get no more password checks than the limit; a key past its limit locks now."""
    counts: dict[str, int] = {}
    locked: dict[str, dt.datetime] = {}
    with transaction(target) as session:
        for key, limit in limits.items():
            count, until = _bump(session, key, now, throttle.window)
            counts[key] = count
            if until is not None and until > now:
                locked[key] = until
            elif count > limit:
                locked[key] = _lock(session, key, now, throttle)
    return Attempt(counts, locked)


def _lock(session: Session, key: str, now: dt.datetime, throttle: Throttle) -> dt.datetime:
    until = now + throttle.lock
    session.execute(
        update(SignInThrottle)
        .where(SignInThrottle.key == key)
        .values(locked_until=until, failures=0, first_at=now)
    )
    return until


def failed(
    target: StoreOrSession,
    attempt: Attempt,
    limits: dict[str, int],
    now: dt.datetime,
    throttle: Throttle,
) -> dict[str, dt.datetime]:
    """The password was wrong: the keys whose limit this attempt reached lock now."""
    reached = [k for k, limit in limits.items() if attempt.counts.get(k, 0) >= limit]
    if not reached:
        return {}
    with transaction(target) as session:
        return {key: _lock(session, key, now, throttle) for key in reached}


def succeeded(target: StoreOrSession, user_id: str, address: str) -> None:
    """A right password: the user id's count is cleared, and the attempt is not held against
    the address (an office behind one address signs in all day)."""
    with transaction(target) as session:
        session.execute(delete(SignInThrottle).where(SignInThrottle.key == user_key(user_id)))
        session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.key == address_key(address), SignInThrottle.failures > 0)
            .values(failures=SignInThrottle.failures - 1)
        )


def split_key(key: str) -> tuple[KeyKind, str]:
    kind, _, subject = key.partition(":")
    return ("user" if kind == "user" else "address"), subject


def locks(target: StoreOrSession, now: dt.datetime) -> list[tuple[KeyKind, str, dt.datetime]]:
    """What is locked now: (user or address, which, until when), soonest end first."""
    with transaction(target) as session:
        rows = session.execute(
            select(SignInThrottle.key, SignInThrottle.locked_until)
            .where(SignInThrottle.locked_until > now)
            .order_by(SignInThrottle.locked_until)
        ).all()
    return [(*split_key(key), until) for key, until in rows if until is not None]


def unlock(target: StoreOrSession, kind: KeyKind, subject: str) -> bool:
    """Lift a lock (and forget the count) of a user id or an address; False if none."""
    key = user_key(subject) if kind == "user" else address_key(subject)
    with transaction(target) as session:
        result = session.execute(delete(SignInThrottle).where(SignInThrottle.key == key))
        return bool(result.rowcount)  # type: ignore[attr-defined]
