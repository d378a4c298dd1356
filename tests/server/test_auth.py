"""Tokens and users: /auth/guest, /users/, /token, /auth/refresh, rate limits, no enumeration."""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest

from codhechat.server.security import create_token
from tests.server.conftest import SECRET, Guest, ServerThread, new_guest


async def test_guest_token_shape_and_new_identity_each_call(api: httpx.AsyncClient) -> None:
    first = await api.post("/auth/guest")
    second = await api.post("/auth/guest")
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"access_token", "token_type", "user_id"}
    assert body["token_type"] == "bearer" and isinstance(body["user_id"], int)
    assert second.json()["user_id"] != body["user_id"]
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 30 * 60
    me = await api.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert claims["sub"] == me.json()["username"]


async def test_register_login_and_duplicate(api: httpx.AsyncClient) -> None:
    created = await api.post("/users/", json={"username": "alice_reg", "password": "correct horse"})
    assert created.status_code == 200
    assert created.json() == {"id": created.json()["id"], "username": "alice_reg", "conversations": []}
    again = await api.post("/users/", json={"username": "alice_reg", "password": "other password"})
    assert again.status_code == 400
    assert again.json() == {"detail": "Username already registered"}

    token = await api.post("/token", data={"username": "alice_reg", "password": "correct horse"})
    assert token.status_code == 200
    assert set(token.json()) == {"access_token", "token_type"} and token.json()["token_type"] == "bearer"
    wrong = await api.post("/token", data={"username": "alice_reg", "password": "wrong"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    nobody = await api.post("/token", data={"username": "no_such_user", "password": "x"})
    assert nobody.status_code == 401


async def test_short_password_and_bad_username_are_refused(api: httpx.AsyncClient) -> None:
    short = await api.post("/users/", json={"username": "bob_short", "password": "abc"})
    assert short.status_code == 422 and "at least 8" in short.json()["detail"]
    bad = await api.post("/users/", json={"username": "has space", "password": "long enough"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-jwt",
        create_token("someone", secret="another-secret-" + "y" * 40, minutes=5),  # forged
        create_token("someone", secret=SECRET, minutes=-1),  # expired
        jwt.encode({"sub": "x"}, SECRET, algorithm="HS256"),  # no exp
        jwt.encode({"exp": 9999999999}, SECRET, algorithm="HS256"),  # no sub
        jwt.encode({"sub": "x", "exp": 9999999999}, SECRET, algorithm="HS512"),  # other algorithm
        jwt.encode({"sub": "x", "exp": 9999999999}, None, algorithm="none"),  # unsigned
    ],
    ids=["missing", "garbage", "forged", "expired", "no-exp", "no-sub", "hs512", "alg-none"],
)
async def test_bad_tokens_get_401_with_www_authenticate(api: httpx.AsyncClient, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for path in ("/conversations/", "/users/", "/users/me"):
        response = await api.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"


async def test_users_list_shows_only_the_caller(api: httpx.AsyncClient, guest: Guest) -> None:
    other = await new_guest(api)
    listed = await api.get("/users/", headers=guest.headers)
    assert listed.status_code == 200
    assert [u["id"] for u in listed.json()] == [guest.user_id]
    assert (await api.get(f"/users/{other.user_id}", headers=guest.headers)).status_code == 404
    assert (await api.get(f"/users/{guest.user_id}", headers=guest.headers)).json()["id"] == guest.user_id


async def test_refresh_keeps_the_identity(api: httpx.AsyncClient, guest: Guest) -> None:
    created = await api.post(f"/users/{guest.user_id}/conversations/", json={"name": "mine"}, headers=guest.headers)
    refreshed = await api.post("/auth/refresh", headers=guest.headers)
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["user_id"] == guest.user_id and body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    # The refresh token works even without an access token, and gives the same user.
    again = await api.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 200 and again.json()["user_id"] == guest.user_id
    listed = await api.get("/conversations/", headers={"Authorization": f"Bearer {again.json()['access_token']}"})
    assert [c["id"] for c in listed.json()] == [created.json()["id"]]
    # A refresh token is not an access token, and an expired access token cannot refresh.
    as_access = await api.get("/conversations/", headers={"Authorization": f"Bearer {body['refresh_token']}"})
    assert as_access.status_code == 401
    expired = create_token("whoever", secret=SECRET, minutes=-1)
    assert (await api.post("/auth/refresh", headers={"Authorization": f"Bearer {expired}"})).status_code == 401
    assert (await api.post("/auth/refresh", json={"refresh_token": guest.token})).status_code == 401


async def test_auth_endpoints_are_rate_limited_per_address(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(auth_rate_limit=3, auth_rate_window=60)
    async with httpx.AsyncClient(base_url=server.url) as client:
        statuses = [(await client.post("/auth/guest")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.post("/auth/guest")
        assert "Too many requests" in limited.json()["detail"]
        assert int(limited.headers["retry-after"]) >= 1
        # /token and POST /users/ share the address's budget.
        assert (await client.post("/token", data={"username": "a", "password": "b"})).status_code == 429
        assert (await client.post("/users/", json={"username": "abc", "password": "12345678"})).status_code == 429
        # Other endpoints are not limited.
        assert (await client.get("/health")).status_code == 200


async def test_rate_limit_window_passes(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(auth_rate_limit=1, auth_rate_window=0.3)
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.post("/auth/guest")).status_code == 200
        assert (await client.post("/auth/guest")).status_code == 429
        await asyncio.sleep(0.35)
        assert (await client.post("/auth/guest")).status_code == 200


# -- issue 9, item 11: refresh rotation, login lifetime, binding to the account ----------------
async def test_a_refresh_token_works_once_and_a_replay_ends_the_login(api: httpx.AsyncClient, guest: Guest) -> None:
    first = (await api.post("/auth/refresh", headers=guest.headers)).json()
    second = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    # The first one again: a copy is in someone else's hands. Every refresh token of this login stops.
    replay = await api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert (await api.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})).status_code == 401
    # The revoked login's access token cannot start a new chain either; another login can.
    assert (await api.post("/auth/refresh", headers=guest.headers)).status_code == 401
    fresh = await new_guest(api)
    assert (await api.post("/auth/refresh", headers=fresh.headers)).status_code == 200


async def test_no_token_outlives_its_login(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(refresh_token_expire_days=1)
    async with httpx.AsyncClient(base_url=server.url) as client:
        guest = await new_guest(client)
        signed_in = jwt.decode(guest.token, SECRET, algorithms=["HS256"])["iat"]
        await asyncio.sleep(1.1)  # a later second: a refresh token counted from "now" would end later
        body = (await client.post("/auth/refresh", headers=guest.headers)).json()
        again = (await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})).json()
    for token in (body["refresh_token"], again["refresh_token"], again["access_token"]):
        assert jwt.decode(token, SECRET, algorithms=["HS256"])["exp"] <= signed_in + 24 * 3600


async def test_a_deleted_accounts_token_does_not_open_a_new_account_of_the_same_name(api: httpx.AsyncClient) -> None:
    form = {"username": "reused_name", "password": "first password"}
    assert (await api.post("/users/", json=form)).status_code == 200
    old = (await api.post("/token", data=form)).json()["access_token"]
    assert (await api.delete("/users/me", headers={"Authorization": f"Bearer {old}"})).status_code == 204
    assert (await api.post("/users/", json={**form, "password": "second password"})).status_code == 200
    assert (await api.get("/users/me", headers={"Authorization": f"Bearer {old}"})).status_code == 401
    # A token that names only the username (no user id, no version) is never enough.
    bare = create_token("reused_name", secret=SECRET, minutes=30)
    assert (await api.get("/users/me", headers={"Authorization": f"Bearer {bare}"})).status_code == 401


async def test_log_out_everywhere_ends_every_token(api: httpx.AsyncClient) -> None:
    form = {"username": "many_devices", "password": "a good password"}
    assert (await api.post("/users/", json=form)).status_code == 200
    laptop = (await api.post("/token", data=form)).json()["access_token"]
    phone = (await api.post("/token", data=form)).json()["access_token"]
    kept = (await api.post("/auth/refresh", headers={"Authorization": f"Bearer {phone}"})).json()["refresh_token"]
    assert (await api.post("/auth/logout-all", headers={"Authorization": f"Bearer {laptop}"})).status_code == 204
    for token in (laptop, phone):
        assert (await api.get("/users/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    assert (await api.post("/auth/refresh", json={"refresh_token": kept})).status_code == 401
    fresh = (await api.post("/token", data=form)).json()["access_token"]  # signing in again works
    assert (await api.get("/users/me", headers={"Authorization": f"Bearer {fresh}"})).status_code == 200


# -- issue 9, item 12: X-Forwarded-For only from named proxies --------------------------------
async def test_x_forwarded_for_is_ignored_unless_the_proxy_is_named(make_server) -> None:  # type: ignore[no-untyped-def]
    default: ServerThread = make_server(auth_rate_limit=2)
    async with httpx.AsyncClient(base_url=default.url) as client:
        spoofed = [(await client.post("/auth/guest", headers={"X-Forwarded-For": f"10.0.0.{i}"})).status_code
                   for i in range(3)]  # fmt: skip
    assert spoofed == [200, 200, 429]  # one address, whatever the header says
    behind_proxy: ServerThread = make_server(auth_rate_limit=2, forwarded_allow_ips="127.0.0.1")
    async with httpx.AsyncClient(base_url=behind_proxy.url) as client:
        clients = [(await client.post("/auth/guest", headers={"X-Forwarded-For": f"10.0.0.{i}"})).status_code
                   for i in range(3)]  # fmt: skip
        same = [(await client.post("/auth/guest", headers={"X-Forwarded-For": "10.0.0.9"})).status_code
                for _ in range(3)]  # fmt: skip
    assert clients == [200, 200, 200] and same == [200, 200, 429]
