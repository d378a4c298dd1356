"""Stored tokens: what a sign-in leaves on disk, per server, and whether it is still fresh."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from codhechat import paths
from codhechat.backends.remote.address import display_name

EXPIRY_MARGIN_S = 60.0  # renew an access token this long before it expires


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
        except (OSError, ValueError, TypeError, AttributeError):
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
