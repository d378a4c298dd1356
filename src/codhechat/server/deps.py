"""Dependencies: one Annotated alias per concern (the app context, a DB session, the user).

Authentication reads the user in a session of its own and gives the connection back
before the route runs: a request never holds one connection while it waits for a
second (40 chats from one token used to deadlock the pool that way).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from codhechat.llm import ModelClient
from codhechat.server import crud
from codhechat.server.limits import Limits
from codhechat.server.models import User
from codhechat.server.security import Claims, decode_token
from codhechat.server.service import ChatService
from codhechat.server.settings import ServerSettings


@dataclass
class AppContext:
    """Everything one app instance owns; made in its lifespan, kept on `app.state.ctx`."""

    settings: ServerSettings
    engine: AsyncEngine
    health_engine: AsyncEngine  # one connection of its own: /health never queues behind chats
    sessions: async_sessionmaker[Any]
    model: ModelClient
    chat: ChatService
    limits: Limits

    @property
    def secret(self) -> str:
        return self.settings.secret_key.get_secret_value()


def get_ctx(conn: HTTPConnection) -> AppContext:
    return conn.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]

UNAUTHORIZED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="Could not validate credentials",
    headers={"WWW-Authenticate": "Bearer"},
)


async def user_for_claims(session: AsyncSession, claims: Claims | None) -> User | None:
    """The account a token names: same id, same name, and its token version not passed."""
    if claims is None:
        return None
    user = await crud.get_user(session, user_id=claims.user_id)
    if user is None or user.username != claims.username or user.token_version != claims.version:
        return None
    return user


async def user_for_token(ctx: AppContext, token: str | None) -> User | None:
    """Look the user up in a short session of its own (its connection is back in the pool
    when this returns); database failures propagate for the caller to answer 503 / 1013."""
    if not token:
        return None
    claims = decode_token(token, secret=ctx.secret)
    if claims is None:
        return None
    async with ctx.sessions() as session:
        return await user_for_claims(session, claims)


async def get_current_user(ctx: Ctx, token: TokenDep) -> User:
    user = await user_for_token(ctx, token)
    if user is None:
        raise UNAUTHORIZED
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def client_address(conn: HTTPConnection) -> str:
    """The peer's address; a proxy's X-Forwarded-For counts only from FORWARDED_ALLOW_IPS."""
    return conn.client.host if conn.client else "unknown"


async def auth_rate_limit(request: Request, ctx: Ctx) -> None:
    """Per-address limit on the endpoints that mint identities or check passwords."""
    wait = await ctx.limits.auth_hit(client_address(request))
    if wait:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many requests from this address; try again in {int(wait) + 1} s.",
            headers={"Retry-After": str(int(wait) + 1)},
        )


RateLimited = Depends(auth_rate_limit)
