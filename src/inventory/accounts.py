"""Accounts: users and roles, password sign-in with throttling, browser sessions, API tokens.

Session and API tokens are random strings shown once; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from inventory.db.models import ApiToken, LoginThrottle, Role, User, UserSession
from inventory.errors import Conflict, InvalidInput, NotFound, TooManyAttempts

SESSION_LIFETIME = timedelta(days=14)
TOKEN_PREFIX = "inv_"  # noqa: S105 - a public marker that makes tokens recognisable
MIN_PASSWORD_LENGTH = 10
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# Throttling: after FREE_FAILURES, each further failure doubles the wait, up to MAX_BLOCK;
# a quiet FORGET_AFTER clears the count, so the real user is never locked out for good.
FREE_FAILURES = 3
MAX_BLOCK = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)
# Writing last-used times on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput.field(
            "password", f"must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    if len(password) > 1024:
        raise InvalidInput.field("password", "must be at most 1024 characters long")


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(role.value for role in Role)
        raise InvalidInput.field("role", f"must be one of {allowed}, got {value!r}") from None


# ---- users ------------------------------------------------------------------------------


def find_user(*, session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def get_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(func.lower(User.username))))


def create_user(*, session: Session, username: str, password: str, role: Role) -> User:
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput.field("username", "use 1-64 letters, digits and the characters _ . @ -")
    _check_password(password)
    if find_user(session=session, username=username) is not None:
        raise Conflict(f"user {username!r} already exists", errors={"username": ["taken"]})
    user = User(username=username, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.commit()
    return user


def has_users(*, session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) != 0


def create_first_admin(*, session: Session, username: str, password: str) -> User:
    """The first-run account. Refused once any user exists, even if two people race."""
    session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
    if has_users(session=session):
        session.rollback()
        raise Conflict("this installation already has users; sign in instead")
    return create_user(session=session, username=username, password=password, role=Role.admin)


def update_user(
    *, session: Session, user_id: int, role: Role | None = None, active: bool | None = None
) -> User:
    user = get_user(session=session, user_id=user_id)
    if role is not None:
        user.role = role
    if active is not None:
        user.active = active
        if not active:
            _end_all_sessions(session, user.id)
    _keep_an_admin(session)
    session.commit()
    return user


def delete_user(*, session: Session, user_id: int) -> None:
    session.delete(get_user(session=session, user_id=user_id))
    _keep_an_admin(session)
    session.commit()


def _keep_an_admin(session: Session) -> None:
    session.flush()
    admins = session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.admin, User.active)
    )
    if not admins:
        session.rollback()
        raise Conflict("at least one active admin must remain")


def set_password(
    *, session: Session, user: User, password: str, keep_session_token: str | None = None
) -> None:
    """Change a password; every other browser session of the user is signed out."""
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    query = delete(UserSession).where(UserSession.user_id == user.id)
    if keep_session_token is not None:
        query = query.where(UserSession.token_hash != _digest(keep_session_token))
    session.execute(query)
    session.commit()


def change_password(
    *, session: Session, user: User, current: str, new: str, keep_session_token: str | None
) -> None:
    if not _verify(user.password_hash, current):
        raise InvalidInput.field("current_password", "is not correct")
    set_password(session=session, user=user, password=new, keep_session_token=keep_session_token)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# ---- sign-in and sessions ------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    user: User
    session_token: str


def sign_in(*, session: Session, username: str, password: str, address: str) -> SignIn:
    """Check the password (throttled per account and per address) and open a browser session."""
    keys = [f"user:{username.lower()[:100]}", f"ip:{address[:100]}"]
    _refuse_if_blocked(session, keys)
    user = find_user(session=session, username=username)
    valid = _verify(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.active:
        _record_failure(session, keys)
        raise InvalidInput(
            "wrong username or password", errors={"password": ["wrong username or password"]}
        )
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id, token_hash=_digest(token), expires_at=_now() + SESSION_LIFETIME
        )
    )
    session.commit()
    return SignIn(user=user, session_token=token)


def _refuse_if_blocked(session: Session, keys: list[str]) -> None:
    now = _now()
    blocked = session.scalars(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > now
        )
    ).all()
    if blocked:
        wait = max(int((until - now).total_seconds()) + 1 for until in blocked if until)
        raise TooManyAttempts(
            f"too many failed sign-ins; try again in {wait} seconds", retry_after=wait
        )


def _record_failure(session: Session, keys: list[str]) -> None:
    # The failure must be stored even though the caller raises: commit here.
    session.rollback()
    now = _now()
    for key in keys:
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
            session.add(row)
        elif now - row.last_failure_at > FORGET_AFTER:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        extra = row.failures - FREE_FAILURES
        if extra > 0:
            row.blocked_until = now + min(timedelta(seconds=2**extra), MAX_BLOCK)
    session.commit()


def resolve_session(*, session: Session, token: str) -> User | None:
    """The signed-in user for a session cookie token, or None when unknown or expired."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
    now = _now()
    if row is None or row.expires_at <= now or not row.user.active:
        return None
    if now - row.last_seen_at > LAST_USED_RESOLUTION:
        row.last_seen_at = now
        session.commit()
    return row.user


def sign_out(*, session: Session, token: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))
    session.commit()


def _end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(UserSession).where(UserSession.user_id == user_id))


# ---- API tokens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


def create_token(*, session: Session, user: User, name: str = "") -> NewToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name or f"token {_now():%Y-%m-%d %H:%M}",
        token_hash=_digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
    )
    session.add(token)
    session.commit()
    return NewToken(token=token, secret=secret)


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_token(
    *, session: Session, user: User | None, token_id: int | None = None, secret: str | None = None
) -> ApiToken:
    """Revoke by id (a user's own, or any for `user=None`) or by the token string itself."""
    query = select(ApiToken)
    if secret is not None:
        query = query.where(ApiToken.token_hash == _digest(secret))
    else:
        query = query.where(ApiToken.id == token_id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    token = session.scalar(query)
    if token is None:
        raise NotFound("no such token")
    if token.revoked_at is None:
        token.revoked_at = _now()
        session.commit()
    return token


def resolve_token(*, session: Session, secret: str) -> User | None:
    """The user behind a bearer token, or None when unknown or revoked."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = _now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.commit()
    return token.user
