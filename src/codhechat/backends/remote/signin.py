"""Signing in and staying signed in: a guest or an account, tokens renewed ahead of expiry.

`SignIn.token()` is what every REST call and every socket asks for. The refresh
extension (/auth/refresh) is probed once per process; a classic server answers it 404
and is remembered as without it, and then a guest's identity ends with its token (the
user is told once, and carries on as a new guest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import TypeAdapter

from codhechat.backends.remote.errors import (
    AuthError,
    FatalRemoteError,
    RemoteError,
    body_of,
    detail_of,
    status_error,
)
from codhechat.backends.remote.tokens import Credentials, TokenStore
from codhechat.errors import CodheError
from codhechat.protocol.rest import GuestToken, RefreshedToken, Token

Request = Callable[..., Awaitable[httpx.Response]]

GUEST_TOKEN = TypeAdapter(GuestToken)
TOKEN = TypeAdapter(Token)
REFRESHED_TOKEN = TypeAdapter(RefreshedToken)


class SignIn:
    """The credentials for one server: loaded from the TokenStore, renewed, saved back."""

    def __init__(self, server: str, request: Request, store: TokenStore) -> None:
        self.server = server
        self.request = request
        self.store = store
        self.credentials: Credentials | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._guest_expiry_told = False
        self._probed = False  # asked /auth/refresh once in this process

    def _save(self, credentials: Credentials) -> None:
        self.credentials = credentials
        try:
            self.store.save(credentials)
        except OSError as exc:
            raise CodheError(f"Cannot store the sign-in token in {self.store.path}: {exc.strerror}.") from None

    def _current(self) -> Credentials | None:
        if not self._loaded:
            self.credentials = self.store.load()
            self._loaded = True
        return self.credentials

    async def token(self, *, rejected: str | None = None) -> str:
        """A valid access token: the stored one, renewed, or a new guest's.

        `rejected` is a token the server just refused: it is not reused.
        """
        async with self._lock:
            credentials = self._current()
            if credentials is not None and credentials.access_token != rejected and credentials.fresh():
                if credentials.refresh is None and not self._probed:
                    self._probed = True
                    await self._refresh(credentials, use_access=True)  # learn support, get a refresh token
                return self.credentials.access_token if self.credentials else credentials.access_token
            if credentials is not None:
                renewed = await self._renew(credentials, rejected=rejected)
                if renewed is not None:
                    return renewed.access_token
                if credentials.kind == "user":
                    raise AuthError(
                        f"Your session on {self.server} has expired.",
                        f"Sign in again: in the app Ctrl+P, “Sign in…”; in a shell codhechat login --server {self.server}",
                    )
                if not self._guest_expiry_told:
                    self._guest_expiry_told = True
                    raise AuthError(
                        f"Your guest session on {self.server} has expired, and this server cannot renew it.",
                        "A new guest identity cannot see the old conversations. Send a message to carry on "
                        f"as a new guest, or use an account: codhechat login --server {self.server}",
                    )
            return (await self._guest()).access_token

    async def _guest(self) -> Credentials:
        response = await self.request("POST", "/auth/guest")
        if response.status_code != 200:
            raise status_error(self.server, response)
        body = body_of(self.server, response, GUEST_TOKEN, "/auth/guest")
        credentials = Credentials(body.access_token, kind="guest", user_id=body.user_id)
        self._save(credentials)
        await self._refresh(credentials, use_access=True)
        return self.credentials or credentials

    async def _renew(self, credentials: Credentials, *, rejected: str | None) -> Credentials | None:
        if credentials.refresh is False:
            return None
        if credentials.refresh_token and credentials.fresh(credentials.refresh_token, margin=0):
            renewed = await self._refresh(credentials, use_access=False)
            if renewed is not None:
                return renewed
        if credentials.access_token != rejected and credentials.fresh(margin=0):
            return await self._refresh(credentials, use_access=True)
        return None

    async def _refresh(self, credentials: Credentials, *, use_access: bool) -> Credentials | None:
        """`POST /auth/refresh` (extension); a 404 or 405 marks a classic server, once."""
        options: dict[str, Any]
        if use_access:
            options = {"headers": {"Authorization": f"Bearer {credentials.access_token}"}}
        else:
            options = {"json": {"refresh_token": credentials.refresh_token}}
        try:
            response = await self.request("POST", "/auth/refresh", **options)
        except FatalRemoteError:
            raise
        except RemoteError:
            return None  # try again next time
        if response.status_code in (404, 405):
            credentials.refresh = False
            self._save(credentials)
            return None
        if response.status_code != 200:
            if credentials.refresh is None:
                credentials.refresh = True if response.status_code == 401 else None
            return None
        try:
            body = body_of(self.server, response, REFRESHED_TOKEN, "/auth/refresh")
        except FatalRemoteError:  # not the extension as we know it: do without
            credentials.refresh = False
            self._save(credentials)
            return None
        renewed = Credentials(
            body.access_token,
            kind=credentials.kind,
            username=credentials.username,
            user_id=body.user_id,
            refresh_token=body.refresh_token or credentials.refresh_token,
            refresh=True,
            header_auth=credentials.header_auth,
        )
        self._save(renewed)
        return renewed

    def remember_header_auth(self, supported: bool | None) -> None:
        """Whether this server's /ws takes the token in a header (None: not known)."""
        credentials = self.credentials
        if credentials is not None and credentials.header_auth != supported:
            credentials.header_auth = supported
            try:
                self.store.save(credentials)
            except OSError:
                pass

    async def login(self, username: str, password: str, *, register: bool = False) -> Credentials:
        """`POST /users/` (with `register`), then `POST /token`; the token is stored."""
        if register:
            response = await self.request("POST", "/users/", json={"username": username, "password": password})
            if response.status_code == 400:
                raise RemoteError(f"Cannot create the account: {detail_of(response)}.",
                                  "Pick another username, or sign in without --register.")  # fmt: skip
            if response.status_code == 422:
                raise RemoteError(f"The server refused that username or password: {detail_of(response)}.")
            if response.status_code != 200:
                raise status_error(self.server, response)
        response = await self.request("POST", "/token", data={"username": username, "password": password})
        if response.status_code == 401:
            raise AuthError("Wrong username or password.", "Try again, or create the account with --register.")
        if response.status_code != 200:
            raise status_error(self.server, response)
        body = body_of(self.server, response, TOKEN, "/token")
        async with self._lock:
            credentials = Credentials(body.access_token, kind="user", username=username)
            self._save(credentials)
            self._loaded = True
            await self._refresh(credentials, use_access=True)
            return self.credentials or credentials
