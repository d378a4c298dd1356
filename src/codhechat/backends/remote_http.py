"""Remote mode, the REST half: server addresses, sign-in, stored tokens, paged reads.

Every failure is translated here, once, into a `RemoteError` (a CodheError) that
says what went wrong and what to do; the WebSocket half reuses the translations.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from codhechat import paths
from codhechat.errors import CodheError

PAGE = 100  # the protocol caps a page at 100
MAX_PAGES = 1000  # a guard against a server that ignores `skip`
EXPIRY_MARGIN_S = 60.0  # renew an access token this long before it expires
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class RemoteError(CodheError):
    """The server cannot be reached or answered something we cannot use."""


class FatalRemoteError(RemoteError):
    """Trying again will not help (a TLS failure, not a CoDHeChat server): stop reconnecting."""


class AuthError(FatalRemoteError):
    """The server refused the sign-in."""


def normalize_server(url: str) -> str:
    """`chat.example.org` -> `https://chat.example.org`; loopback hosts default to http."""
    text = url.strip()
    if not text:
        raise RemoteError("No server address was given.", "Use --server https://chat.example.org.")
    if "://" not in text:
        host = text.split("/")[0].rsplit(":", 1)[0].strip("[]")
        text = f"{'http' if host in LOOPBACK else 'https'}://{text}"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise FatalRemoteError(
            f"{url!r} is not a server address.",
            "Give the server's http:// or https:// URL, for example https://chat.example.org.",
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def ws_url(server: str) -> str:
    parts = urlsplit(server)
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, parts.path + "/ws", "", ""))


def display_name(server: str) -> str:
    parts = urlsplit(server)
    return parts.netloc + parts.path


def jwt_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without verifying them (only the server can)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def jwt_expiry(token: str) -> float | None:
    exp = jwt_claims(token).get("exp")
    return float(exp) if isinstance(exp, int | float) else None


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def connect_error(server: str, exc: BaseException) -> RemoteError:
    """A failure to open a connection, in words: TLS, DNS, refused, timed out."""
    causes = _causes(exc)
    text = " ".join(str(c) for c in causes)
    if any(isinstance(c, ssl.SSLError) for c in causes) or "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        reason = next((str(c) for c in causes if isinstance(c, ssl.SSLError)), text)
        return FatalRemoteError(
            f"The secure (TLS) connection to {server} failed: {reason}.",
            "Check that the address is right and its certificate is valid; an http:// server "
            "must not be given as https://. Set SSL_CERT_FILE to trust a private CA.",
        )
    if any(isinstance(c, socket.gaierror) for c in causes):
        return RemoteError(
            f"Cannot find the server {urlsplit(server).hostname}.",
            "Check the address in --server (or `server` in the config) and your network.",
        )
    if any(isinstance(c, TimeoutError | httpx.TimeoutException) for c in causes):
        return RemoteError(f"{server} did not answer in time.", "Check your network, or try again shortly.")
    return RemoteError(
        f"Cannot connect to {server}.",
        "Check the address and port, and that the server is running.",
    )


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # a 422 from pydantic
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return str(detail) if detail else f"HTTP {response.status_code}"


def status_error(server: str, response: httpx.Response, *, not_found: str | None = None) -> RemoteError:
    """An HTTP error status, in words."""
    code = response.status_code
    if code == 401:
        return AuthError(f"{server} refused the sign-in (401): {_detail(response)}.")
    if code == 429:
        wait = response.headers.get("Retry-After")
        return RemoteError(
            f"The server is rate limiting requests from this address (429): {_detail(response)}",
            f"Wait {wait} s and try again." if wait else "Wait a minute and try again.",
        )
    if code == 404:
        if not_found:
            return RemoteError(not_found)
        return FatalRemoteError(
            f"{server} has no {response.request.url.path} (404): it does not look like a CoDHeChat server.",
            "Check the address: give the server's root URL, e.g. https://chat.example.org.",
        )
    if code >= 500:
        return RemoteError(f"The server failed ({code}): {_detail(response)}.", "Try again shortly.")
    return RemoteError(f"The server refused the request ({code}): {_detail(response)}.")


def not_protocol(server: str, what: str) -> FatalRemoteError:
    return FatalRemoteError(
        f"{server} answered {what} with something that is not of the CoDHeChat protocol.",
        "Check the address: it must be a CoDHeChat server (codhechat serve or compatible).",
    )


# -- stored tokens -------------------------------------------------------------------


@dataclass
class Credentials:
    access_token: str
    kind: str = "guest"  # "guest" (from /auth/guest) or "user" (from /token)
    username: str | None = None
    user_id: int | None = None
    refresh_token: str | None = None
    refresh: bool | None = None  # does the server offer /auth/refresh? None: not asked yet
    header_auth: bool | None = None  # does its /ws accept the token in a header?

    def fresh(self, token: str | None = None, margin: float | None = None) -> bool:
        """Not expired; with a margin (to renew ahead) only where the server can renew."""
        claims = jwt_claims(token or self.access_token)
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float):
            return True  # no expiry we can read: the server will say
        if margin is None:
            margin = 0.0
            if self.refresh is not False:  # a quarter of the lifetime, at most a minute
                lifetime = exp - iat if isinstance(iat, int | float) else EXPIRY_MARGIN_S * 4
                margin = min(EXPIRY_MARGIN_S, max(0.0, lifetime / 4))
        return exp - margin > time.time()


class TokenStore:
    """One JSON file per server in the platform data folder, readable by the user only."""

    def __init__(self, server: str, folder: Path | None = None) -> None:
        slug = re.sub(r"[^A-Za-z0-9.-]+", "_", display_name(server)).strip("_")[:80]
        digest = hashlib.sha256(server.encode()).hexdigest()[:8]
        self.path = (folder or paths.data_dir() / "servers") / f"{slug}-{digest}.json"

    def load(self) -> Credentials | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(Credentials)}
            return Credentials(**{k: v for k, v in data.items() if k in known})
        except (OSError, ValueError, TypeError):
            return None

    def save(self, credentials: Credentials) -> None:
        paths.ensure_dir(self.path.parent)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(credentials), handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def clear(self) -> bool:
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False


# -- the REST client -----------------------------------------------------------------


class ServerApi:
    """httpx against one CoDHeChat server: sign-in, token upkeep, paged GETs."""

    def __init__(
        self, server: str, *, timeout: float = 30.0, token_folder: Path | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:  # fmt: skip
        self.server = normalize_server(server)
        self.store = TokenStore(self.server, token_folder)
        self.timeout = timeout
        self.verify = verify
        self.http = httpx.AsyncClient(base_url=self.server, timeout=timeout, verify=verify)
        self.credentials: Credentials | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._guest_expiry_told = False
        self._probed = False  # asked /auth/refresh once in this process

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; transport failures become RemoteErrors, statuses are left to the caller."""
        try:
            return await self.http.request(method, path, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FatalRemoteError(f"{self.server} is not a usable address: {exc}.") from None
        except httpx.TimeoutException:
            raise RemoteError(
                f"{self.server} did not answer within {self.timeout:g} s.",
                "Check your network, or try again shortly.",
            ) from None
        except httpx.ConnectError as exc:
            raise connect_error(self.server, exc) from None
        except httpx.HTTPError as exc:
            raise RemoteError(f"The connection to {self.server} broke: {exc or type(exc).__name__}.",
                              "Try again.") from None  # fmt: skip

    def json_body(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise not_protocol(self.server, what) from None

    # Tokens

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
                        f"Sign in again: codhechat login --server {self.server}",
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
        body = self.json_body(response, "/auth/guest")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise not_protocol(self.server, "/auth/guest")
        credentials = Credentials(body["access_token"], kind="guest", user_id=body.get("user_id"))
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
        try:
            if use_access:
                headers = {"Authorization": f"Bearer {credentials.access_token}"}
                response = await self.request("POST", "/auth/refresh", headers=headers)
            else:
                response = await self.request(
                    "POST", "/auth/refresh", json={"refresh_token": credentials.refresh_token}
                )
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
        body = self.json_body(response, "/auth/refresh")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            credentials.refresh = False
            self._save(credentials)
            return None
        renewed = Credentials(
            body["access_token"],
            kind=credentials.kind,
            username=credentials.username,
            user_id=body.get("user_id", credentials.user_id),
            refresh_token=body.get("refresh_token") or credentials.refresh_token,
            refresh=True,
            header_auth=credentials.header_auth,
        )
        self._save(renewed)
        return renewed

    def remember_header_auth(self, supported: bool) -> None:
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
                raise RemoteError(f"Cannot create the account: {_detail(response)}.",
                                  "Pick another username, or sign in without --register.")  # fmt: skip
            if response.status_code == 422:
                raise RemoteError(f"The server refused that username or password: {_detail(response)}.")
            if response.status_code != 200:
                raise status_error(self.server, response)
        response = await self.request("POST", "/token", data={"username": username, "password": password})
        if response.status_code == 401:
            raise AuthError("Wrong username or password.", "Try again, or create the account with --register.")
        if response.status_code != 200:
            raise status_error(self.server, response)
        body = self.json_body(response, "/token")
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise not_protocol(self.server, "/token")
        async with self._lock:
            credentials = Credentials(body["access_token"], kind="user", username=username)
            self._save(credentials)
            self._loaded = True
            await self._refresh(credentials, use_access=True)
            return self.credentials or credentials

    # Authorised reads

    async def authorised(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request with the bearer token; a 401 renews the token and tries once more."""
        token = await self.token()
        response = await self.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code == 401:
            token = await self.token(rejected=token)
            response = await self.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return response

    async def get(self, path: str, params: dict[str, Any], *, not_found: str | None = None) -> httpx.Response:
        response = await self.authorised("GET", path, params=params)
        if response.status_code != 200:
            raise status_error(self.server, response, not_found=not_found)
        return response

    async def get_all(self, path: str, params: dict[str, Any] | None = None, *,
                      not_found: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Every page of a list (`skip`/`limit`), deduplicated by id, in the server's order."""
        items: dict[Any, dict[str, Any]] = {}
        skip = 0
        for _ in range(MAX_PAGES):
            response = await self.get(path, {**(params or {}), "skip": skip, "limit": PAGE}, not_found=not_found)
            page = self.json_body(response, path)
            if not isinstance(page, list) or not all(isinstance(i, dict) and "id" in i for i in page):
                raise not_protocol(self.server, path)
            for item in page:
                items.setdefault(item["id"], item)
            total = response.headers.get("X-Total-Count", "")
            skip += len(page)
            if not page or (total.isdigit() and skip >= int(total)) or (not total.isdigit() and len(page) < PAGE):
                break
        return list(items.values())

    async def health_model(self) -> str:
        """The model named by `GET /health` (this server's extension of its detail), or ""."""
        try:
            response = await self.request("GET", "/health")
            checks = response.json().get("checks", [])
        except (CodheError, ValueError, AttributeError):
            return ""
        for check in checks if isinstance(checks, list) else []:
            detail = check.get("detail", "") if isinstance(check, dict) else ""
            if check.get("component") == "chat_service" and isinstance(detail, str) and detail.startswith("model "):
                return detail.removeprefix("model ")
        return ""
