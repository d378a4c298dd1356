"""Tokens: guest identities, username/password, and refresh (extension)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from codhechat.server import crud
from codhechat.server.deps import UNAUTHORIZED, Ctx, RateLimited, SessionDep, TokenDep, user_for_token
from codhechat.server.schemas import GuestToken, RefreshedToken, RefreshRequest, Token
from codhechat.server.security import create_token, decode_token, verify_password

router = APIRouter(tags=["auth"])


def _access(ctx: Ctx, username: str) -> str:
    return create_token(
        username, secret=ctx.secret, minutes=ctx.settings.access_token_expire_minutes
    )


@router.post("/auth/guest", dependencies=[RateLimited])
async def guest(session: SessionDep, ctx: Ctx) -> GuestToken:
    user = await crud.create_guest(session)
    return GuestToken(access_token=_access(ctx, user.username), user_id=user.id)


@router.post("/token", dependencies=[RateLimited])
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, ctx: Ctx
) -> Token:
    user = await crud.get_user_by_username(session, username=form.username)
    if not await verify_password(form.password, user.hashed_password if user else None):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    assert user is not None
    return Token(access_token=_access(ctx, user.username))


@router.post("/auth/refresh")
async def refresh(
    session: SessionDep,
    ctx: Ctx,
    token: TokenDep,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> RefreshedToken:
    """A fresh access token (and refresh token) for the same user.

    Send either a still-valid access token as `Authorization: Bearer`, or a
    `{"refresh_token": ...}` body from an earlier refresh (valid for days).
    """
    user = None
    if body is not None and body.refresh_token:
        username = decode_token(body.refresh_token, secret=ctx.secret, kind="refresh")
        if username is not None:
            user = await crud.get_user_by_username(session, username=username)
    else:
        user = await user_for_token(session, ctx, token)
    if user is None:
        raise UNAUTHORIZED
    minutes = ctx.settings.access_token_expire_minutes
    refresh_token = create_token(
        user.username,
        secret=ctx.secret,
        minutes=ctx.settings.refresh_token_expire_days * 24 * 60,
        kind="refresh",
    )
    return RefreshedToken(
        access_token=_access(ctx, user.username),
        user_id=user.id,
        refresh_token=refresh_token,
        expires_in=minutes * 60,
    )
