"""`/health` (database and model configuration) and `/`."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from codhechat import __version__
from codhechat.server.db import RETRY_AFTER_S, ping
from codhechat.server.deps import Ctx
from codhechat.server.schemas import Health, HealthCheck

router = APIRouter(tags=["health"])

# "Chatbot server is running" is the classic server's sentence; its clients' and tests' checks look for it.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>CoDHeChat server</title></head>
<body><h1>Chatbot server is running</h1>
<p>A CoDHeChat server (codhechat {version}). Connect a CoDHeChat client, or see <a href="/docs">/docs</a>.</p>
</body></html>
"""
PING_TIMEOUT_S = 5.0


@router.get("/health")
async def health(ctx: Ctx, response: Response) -> Health:
    checks = []
    try:
        await asyncio.wait_for(ping(ctx.health_engine), PING_TIMEOUT_S)
        checks.append(HealthCheck(component="database", status="ok", detail="reachable"))
    except Exception as exc:  # any driver error (or a time-out) means the same to an operator
        checks.append(HealthCheck(component="database", status="error", detail=f"unreachable: {type(exc).__name__}"))
    if ctx.settings.model_configured:
        checks.append(HealthCheck(component="chat_service", status="ok", detail=f"model {ctx.settings.model_name}"))
    else:
        checks.append(
            HealthCheck(
                component="chat_service",
                status="degraded",
                detail="no model configured: set OPENAI_API_KEY or OPENAI_BASE_URL",
            )
        )
    states = {c.status for c in checks}
    overall = "error" if "error" in states else "degraded" if "degraded" in states else "ok"
    if overall == "error":
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return Health(status=overall, checks=checks)


@router.get("/", response_class=HTMLResponse)
async def root() -> str:
    return PAGE.format(version=__version__)
