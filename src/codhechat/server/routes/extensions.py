"""Extensions over the classic protocol that need a route of their own: what the server
can do (`GET /extensions`) and full-text search of the caller's messages (`GET /search`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from codhechat.server import crud
from codhechat.server.deps import CurrentUser, SessionDep
from codhechat.server.schemas import EXTENSIONS, Extensions, SearchHitOut, Text

router = APIRouter(tags=["extensions"])


@router.get("/extensions")
async def extensions() -> Extensions:
    return Extensions(extensions=list(EXTENSIONS))


@router.get("/search")
async def search(
    user: CurrentUser,
    session: SessionDep,
    q: Annotated[Text, Query(min_length=1, max_length=500, description="Words that must all occur")],
    limit: Annotated[int, Query(ge=1, le=100)] = 30,
) -> list[SearchHitOut]:
    """The caller's messages matching every word, best first (stemmed, any case)."""
    rows = await crud.search_messages(session, user_id=user.id, query=q, limit=limit)
    return [
        SearchHitOut(message_id=m, conversation_id=c, title=t, role=r, created_at=at, snippet=snippet)
        for m, c, t, r, at, snippet in rows
    ]
