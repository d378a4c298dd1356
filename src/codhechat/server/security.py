"""Tokens (PyJWT, HS256 pinned, `exp`/`sub` required) and password hashes (pwdlib, Argon2)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal

import jwt
from pwdlib import PasswordHash

ALGORITHM = "HS256"
TokenKind = Literal["access", "refresh"]


def create_token(
    subject: str, *, secret: str, minutes: float, kind: TokenKind = "access"
) -> str:
    now = datetime.now(UTC)
    claims = {"sub": subject, "iat": now, "exp": now + timedelta(minutes=minutes)}
    if kind != "access":
        claims["typ"] = kind  # access tokens carry no `typ`, like the ones other servers issue
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, kind: TokenKind = "access") -> str | None:
    """The token's subject, or None when it is malformed, forged, expired or of another kind."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ", "access") != kind:
        return None
    subject = claims.get("sub")
    return subject if isinstance(subject, str) and subject else None


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
