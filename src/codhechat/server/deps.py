"""Dependencies: one Annotated alias per concern (the app context, a DB session, the user)."""

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
from codhechat.server.limits import RateLimiter, SocketRegistry
from codhechat.server.models import User
from codhechat.server.security import decode_token
from codhechat.server.service import ChatService
from codhechat.server.settings import ServerSettings


@dataclass
class AppContext:
    """Everything one app instance owns; made in its lifespan, kept on `app.state.ctx`."""

    settings: ServerSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    model: ModelClient
    chat: ChatService
    auth_limiter: RateLimiter
    sockets: SocketRegistry

    @property
    def secret(self) -> str:
        return self.settings.secret_key.get_secret_value()


def get_ctx(conn: HTTPConnection) -> AppContext:
    return conn.app.state.ctx  # type: ignore[no-any-return]


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


async def user_for_token(session: AsyncSession, ctx: AppContext, token: str | None) -> User | None:
    if not token:
        return None
    username = decode_token(token, secret=ctx.secret)
    if username is None:
        return None
    return await crud.get_user_by_username(session, username=username)


async def get_current_user(session: SessionDep, ctx: Ctx, token: TokenDep) -> User:
    user = await user_for_token(session, ctx, token)
    if user is None:
        raise UNAUTHORIZED
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


async def auth_rate_limit(request: Request, ctx: Ctx) -> None:
    """Per-address limit on the endpoints that mint identities or check passwords."""
    wait = ctx.auth_limiter.hit(client_address(request))
    if wait:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many requests from this address; try again in {int(wait) + 1} s.",
            headers={"Retry-After": str(int(wait) + 1)},
        )


RateLimited = Depends(auth_rate_limit)
