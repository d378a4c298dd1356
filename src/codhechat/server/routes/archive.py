"""Extension "archive": a user's conversations as codhechat's JSON export
(codhechat.native_format, the same bytes `codhechat export --all --format json` writes),
and `POST /import` of such a file, checked whole before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response

from codhechat.errors import MalformedFile
from codhechat.import_limits import IMPORT_MAX_CONVERSATIONS
from codhechat.models import ConversationRecord
from codhechat.native_format import FORMAT_NAME, dump_json, parse_native, record_of
from codhechat.protocol.conversation_ext import MAX_MODEL_CHARS, ImportResult
from codhechat.server import crud_ext
from codhechat.server.deps import CurrentUser, SessionDep
from codhechat.server.schemas import MAX_DB_INT, text_problem

router = APIRouter(tags=["extensions"])
UPLOAD = Path("the uploaded file")  # how parse_native's messages name it
MAX_TITLE = 200


@router.get("/export", response_class=Response, responses={200: {"content": {"application/json": {}}}})
async def export_conversations(user: CurrentUser, session: SessionDep) -> Response:
    """Every conversation of the caller, oldest first, with its messages."""
    pairs = await crud_ext.exported(session, user_id=user.id)
    text = dump_json([record_of(c, messages, tree=True) for c, messages in pairs])
    return Response(text, media_type="application/json")


def _unfit(records: list[ConversationRecord]) -> str | None:
    """Why the database cannot hold these records, or None."""
    if len(records) > IMPORT_MAX_CONVERSATIONS:
        return f"{len(records):,} conversations, more than the {IMPORT_MAX_CONVERSATIONS:,} one import takes"
    for i, record in enumerate(records, 1):
        if not record.title.strip() or len(record.title) > MAX_TITLE:
            return f"conversation {i}: its title must have 1 to {MAX_TITLE} characters"
        models = [record.model, *(m.model for m in record.messages)]
        if any(model is not None and len(model) > MAX_MODEL_CHARS for model in models):
            return f"conversation {i}: a model name is longer than {MAX_MODEL_CHARS} characters"
        counts = [n for m in record.messages for n in (m.prompt_tokens, m.completion_tokens) if n is not None]
        if any(n > MAX_DB_INT for n in counts):
            return f"conversation {i}: a token count is larger than {MAX_DB_INT:,}"
        texts = [("title", record.title), ("model", record.model), ("system prompt", record.system_prompt)]
        texts += [(f"message {j}", m.content) for j, m in enumerate(record.messages, 1)]
        texts += [(f"message {j} model", m.model) for j, m in enumerate(record.messages, 1)]
        for where, value in texts:
            if value is not None and (problem := text_problem(value)):
                return f"conversation {i}, {where}: {problem}"
    return None


@router.post("/import")
async def import_conversations(request: Request, user: CurrentUser, session: SessionDep) -> ImportResult:
    """A `codhechat export --format json` file: all of it, or (a 422 saying why) nothing."""
    try:
        data = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise HTTPException(status_code=422, detail="The body is not JSON.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise HTTPException(status_code=422, detail='The body is not a codhechat export (format "codhechat").')
    try:
        records = parse_native(data, UPLOAD)
    except MalformedFile as exc:
        raise HTTPException(status_code=422, detail=exc.message) from None
    if problem := _unfit(records):
        raise HTTPException(status_code=422, detail=f"Nothing was imported: {problem}.")
    done = await crud_ext.import_records(session, user_id=user.id, records=records)
    return ImportResult(imported=done.ids, skipped=done.skipped, left_out=done.left_out)
