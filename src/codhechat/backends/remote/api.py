"""The REST client: httpx against one CoDHeChat server, its answers read as protocol models.

Transport failures and HTTP statuses become RemoteErrors here (errors.py words them);
a body that is not the protocol's shape is `not_protocol`, never a KeyError further on.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from codhechat.backends.remote.address import normalize_server
from codhechat.backends.remote.errors import FatalRemoteError, RemoteError, body_of, connect_error, status_error
from codhechat.backends.remote.signin import SignIn
from codhechat.backends.remote.tokens import Credentials, TokenStore
from codhechat.errors import CodheError
from codhechat.protocol import PAGE_LIMIT
from codhechat.protocol.rest import (
    ConversationListItem,
    ConversationSummary,
    Extensions,
    Health,
    MessageOut,
    SearchHitOut,
)


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=_HasId)

MAX_PAGES = 1000  # a guard against a server that ignores `skip`
CONVERSATION_PAGE = TypeAdapter(list[ConversationListItem])
MESSAGE_PAGE = TypeAdapter(list[MessageOut])
SUMMARY = TypeAdapter(ConversationSummary)
HEALTH = TypeAdapter(Health)
EXTENSION_LIST = TypeAdapter(Extensions)
SEARCH_HITS = TypeAdapter(list[SearchHitOut])


class ServerApi:
    """One server's REST routes: sign-in (through SignIn), conversations, messages, health."""

    def __init__(
        self, server: str, *, timeout: float = 30.0, token_folder: Path | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:  # fmt: skip
        self.server = normalize_server(server)
        self.store = TokenStore(self.server, token_folder)
        self.timeout = timeout
        self.verify = verify
        self.http = httpx.AsyncClient(base_url=self.server, timeout=timeout, verify=verify)
        self.signin = SignIn(self.server, self.request, self.store)

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

    # Sign-in (the tokens every call needs)

    @property
    def credentials(self) -> Credentials | None:
        return self.signin.credentials

    async def token(self, *, rejected: str | None = None) -> str:
        return await self.signin.token(rejected=rejected)

    async def login(self, username: str, password: str, *, register: bool = False) -> Credentials:
        return await self.signin.login(username, password, register=register)

    def remember_header_auth(self, supported: bool | None) -> None:
        self.signin.remember_header_auth(supported)

    # Authorised calls

    async def authorised(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request with the bearer token; a 401 renews the token and tries once more."""
        token = await self.token()
        response = await self.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code == 401:
            token = await self.token(rejected=token)
            response = await self.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return response

    async def get_all(self, path: str, page_shape: TypeAdapter[list[T]], params: dict[str, Any] | None = None, *,
                      not_found: str | None = None) -> list[T]:  # fmt: skip
        """Every page of a list (`skip`/`limit`), deduplicated by id, in the server's order."""
        items: dict[int, T] = {}
        skip = 0
        for _ in range(MAX_PAGES):
            query = {**(params or {}), "skip": skip, "limit": PAGE_LIMIT}
            response = await self.authorised("GET", path, params=query)
            if response.status_code != 200:
                raise status_error(self.server, response, not_found=not_found)
            page = body_of(self.server, response, page_shape, f"GET {path}")
            for item in page:
                items.setdefault(item.id, item)
            total = response.headers.get("X-Total-Count", "")
            skip += len(page)
            if not page or (total.isdigit() and skip >= int(total)) or (not total.isdigit() and len(page) < PAGE_LIMIT):
                break
        return list(items.values())

    async def conversations(self) -> list[ConversationListItem]:
        """All of the caller's conversations: summaries, or (classic) with messages embedded."""
        return await self.get_all("/conversations/", CONVERSATION_PAGE, {"include_messages": "false"})

    async def messages(self, conversation_id: int) -> list[MessageOut]:
        return await self.get_all(
            f"/conversations/{conversation_id}/messages/", MESSAGE_PAGE,
            not_found="That conversation does not exist on the server (any more).",
        )  # fmt: skip

    async def rename(self, conversation_id: int, name: str) -> ConversationSummary | None:
        """Extension: `PATCH /conversations/{id}`; None when there is no such conversation."""
        response = await self.authorised("PATCH", f"/conversations/{conversation_id}", json={"name": name})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise status_error(self.server, response)
        return body_of(self.server, response, SUMMARY, "PATCH /conversations/{id}")

    async def delete(self, conversation_id: int) -> bool:
        """Extension: `DELETE /conversations/{id}`; False when there is no such conversation."""
        response = await self.authorised("DELETE", f"/conversations/{conversation_id}")
        if response.status_code == 404:
            return False
        if response.status_code not in (200, 204):
            raise status_error(self.server, response)
        return True

    async def extensions(self) -> set[str]:
        """Extension: `GET /extensions`; a classic server has none (404, or anything else)."""
        try:
            response = await self.request("GET", "/extensions")
            if response.status_code != 200:
                return set()
            return set(EXTENSION_LIST.validate_json(response.content).extensions)
        except (CodheError, ValidationError, ValueError):
            return set()

    async def search(self, query: str, *, limit: int) -> list[SearchHitOut]:
        """Extension: `GET /search?q=...`: the caller's messages matching every word."""
        response = await self.authorised("GET", "/search", params={"q": query, "limit": min(limit, 100)})
        if response.status_code != 200:
            raise status_error(self.server, response)
        return body_of(self.server, response, SEARCH_HITS, "GET /search")

    async def health_model(self) -> str:
        """The model named by `GET /health` (this server's extension of its detail), or ""."""
        try:
            health = HEALTH.validate_json((await self.request("GET", "/health")).content)
        except (CodheError, ValidationError, ValueError):
            return ""
        for check in health.checks:
            if check.component == "chat_service" and check.detail.startswith("model "):
                return check.detail.removeprefix("model ")
        return ""
