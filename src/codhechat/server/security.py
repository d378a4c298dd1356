"""Tokens (PyJWT, HS256 pinned, `exp`/`sub` required) and password hashes (pwdlib, Argon2).

`sub` stays the username, as the protocol has it; what the server believes is `uid`
(the user's id), `ver` (the user's token version, bumped by "log out everywhere") and
`sid` (the login session: no token outlives it). A token without them (issued by
another server, or by an earlier codhechat serve) is refused, since a
username alone may name a different, newer account.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Literal

import jwt
from pwdlib import PasswordHash

ALGORITHM = "HS256"
TokenKind = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class Claims:
    username: str
    user_id: int
    version: int
    session_id: str
    jti: str | None
    expires_at: datetime


def create_token(
    subject: str,
    *,
    secret: str,
    minutes: float,
    kind: TokenKind = "access",
    user_id: int | None = None,
    version: int = 0,
    session_id: str | None = None,
    jti: str | None = None,
    not_after: datetime | None = None,
) -> str:
    """A signed token; `not_after` caps its expiry (the login session's end)."""
    now = datetime.now(UTC)
    expires = now + timedelta(minutes=minutes)
    if not_after is not None:
        expires = min(expires, not_after)
    claims: dict[str, Any] = {"sub": subject, "iat": now, "exp": expires}
    if user_id is not None:
        claims |= {"uid": user_id, "ver": version, "sid": session_id}
    if jti is not None:
        claims["jti"] = jti
    if kind != "access":
        claims["typ"] = kind  # access tokens carry no `typ`, like the ones other servers issue
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, kind: TokenKind = "access") -> Claims | None:
    """The token's claims, or None when it is malformed, forged, expired, of another kind,
    or lacks the user id, version and session that bind it to one account and one login."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except (jwt.PyJWTError, ValueError):
        return None
    if claims.get("typ", "access") != kind:
        return None
    subject, user_id, version, session_id = (claims.get(k) for k in ("sub", "uid", "ver", "sid"))
    if not (isinstance(subject, str) and subject and isinstance(session_id, str) and session_id):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (user_id, version)):
        return None
    jti = claims.get("jti")
    return Claims(
        username=subject, user_id=user_id, version=version, session_id=session_id,  # type: ignore[arg-type]
        jti=jti if isinstance(jti, str) else None,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )  # fmt: skip


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not a real password")


async def hash_password(password: str) -> str:
    """Argon2 costs tens of milliseconds of CPU: run it off the event loop."""
    return await asyncio.to_thread(_hasher().hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    """Constant work whether or not the user exists (a dummy hash stands in)."""
    ok = await asyncio.to_thread(_hasher().verify, password, hashed or _dummy_hash())
    return ok and hashed is not None
