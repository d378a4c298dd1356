"""Tokens: guest identities, username/password, refresh and log-out (extensions).

Every sign-in opens a login session (`auth_sessions`) that lasts REFRESH_TOKEN_EXPIRE_DAYS.
Its refresh token rotates on every use; presenting one that was already used means it
was copied, and revokes the session (every refresh token of that login stops working).
An access token can ask for a refresh token, but never one that outlives its login.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from codhechat.server import crud
from codhechat.server.deps import UNAUTHORIZED, Ctx, CurrentUser, RateLimited, SessionDep, TokenDep, user_for_claims
from codhechat.server.models import AuthSession, User, utcnow
from codhechat.server.schemas import GuestToken, RefreshedToken, RefreshRequest, Token, text_problem
from codhechat.server.security import create_token, decode_token, verify_password

router = APIRouter(tags=["auth"])


def _access(ctx: Ctx, user: User, login: AuthSession) -> str:
    return create_token(
        user.username, secret=ctx.secret, minutes=ctx.settings.access_token_expire_minutes,
        user_id=user.id, version=user.token_version, session_id=login.id, not_after=login.expires_at,
    )  # fmt: skip


async def _login(session: SessionDep, ctx: Ctx, user: User) -> AuthSession:
    lifetime = timedelta(days=ctx.settings.refresh_token_expire_days)
    return await crud.create_auth_session(session, user_id=user.id, expires_at=utcnow() + lifetime)


@router.post("/auth/guest", dependencies=[RateLimited])
async def guest(session: SessionDep, ctx: Ctx) -> GuestToken:
    user = await crud.create_guest(session)
    login = await _login(session, ctx, user)
    return GuestToken(access_token=_access(ctx, user, login), user_id=user.id)


@router.post("/token", dependencies=[RateLimited])
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, ctx: Ctx) -> Token:
    wrong = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Incorrect username or password",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if text_problem(form.username) or text_problem(form.password):
        raise wrong  # no such name can exist, and the database must not see it
    user = await crud.get_user_by_username(session, username=form.username)
    if not await verify_password(form.password, user.hashed_password if user else None):
        raise wrong
    assert user is not None
    return Token(access_token=_access(ctx, user, await _login(session, ctx, user)))


@router.post("/auth/refresh")
async def refresh(
    session: SessionDep,
    ctx: Ctx,
    token: TokenDep,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> RefreshedToken:
    """A fresh access token and a new refresh token for the same user and login.

    Send either a still-valid access token as `Authorization: Bearer`, or a
    `{"refresh_token": ...}` body from an earlier refresh (each works once).
    """
    presented = body.refresh_token if body is not None and body.refresh_token else None
    claims = decode_token(presented, secret=ctx.secret, kind="refresh") if presented else None
    if presented is None and token:
        claims = decode_token(token, secret=ctx.secret)
    user = await user_for_claims(session, claims)
    if user is None or claims is None:
        raise UNAUTHORIZED
    login = await crud.get_auth_session(session, session_id=claims.session_id)
    if login is None or login.user_id != user.id or login.revoked or login.expires_at <= utcnow():
        raise UNAUTHORIZED
    new_jti = secrets.token_hex(16)
    expected = claims.jti if presented else None
    if presented and not expected:
        raise UNAUTHORIZED
    if not await crud.rotate_refresh(session, session_id=login.id, expected_jti=expected, new_jti=new_jti):
        # This refresh token was used before: someone holds a copy. End the whole login.
        await crud.revoke_auth_session(session, session_id=login.id)
        raise UNAUTHORIZED
    access = _access(ctx, user, login)
    refresh_token = create_token(
        user.username, secret=ctx.secret, minutes=ctx.settings.refresh_token_expire_days * 24 * 60,
        kind="refresh", user_id=user.id, version=user.token_version, session_id=login.id,
        jti=new_jti, not_after=login.expires_at,
    )  # fmt: skip
    left = (login.expires_at - utcnow()).total_seconds()
    return RefreshedToken(
        access_token=access,
        user_id=user.id,
        refresh_token=refresh_token,
        expires_in=max(0, int(min(ctx.settings.access_token_expire_minutes * 60, left))),
    )


@router.post("/auth/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def log_out_everywhere(user: CurrentUser, session: SessionDep) -> Response:
    """Extension: every token of this user, on every device, stops working now."""
    await crud.log_out_everywhere(session, user_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
