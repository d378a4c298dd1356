"""Extension `attachments` (codhechat.protocol.attachments): upload a file to send with a
message, read one back, list a conversation's. Each file is its uploader's only: another
user's id is a 404, as a missing one."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from codhechat import attachments
from codhechat.errors import UsageError
from codhechat.protocol.attachments import AttachmentOut
from codhechat.server import attachment_store
from codhechat.server.deps import Ctx, CurrentUser, SessionDep
from codhechat.server.schemas import MAX_DB_INT, Text

router = APIRouter(tags=["extensions"])

Id = Annotated[int, Path(ge=1, le=MAX_DB_INT)]
UPLOAD_PATH = "/attachments"


@router.post(UPLOAD_PATH, status_code=201)
async def upload(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: Ctx,
    name: Annotated[Text, Query(min_length=1, max_length=255, description="The file's name")],
) -> AttachmentOut:
    """The request body is the file's bytes; checked as local mode checks them (size, kind)."""
    data = await request.body()
    try:
        file = attachments.prepare(name, data, max_mb=ctx.settings.attachment_max_mb)
    except UsageError as exc:
        too_big = len(data) > ctx.settings.attachment_max_mb * 1024 * 1024
        raise HTTPException(status_code=413 if too_big else 422, detail=exc.message) from None
    settings = ctx.settings
    if file.attachment.size > settings.attachment_unsent_mb * 1024 * 1024:
        raise HTTPException(status_code=413, detail=f"A file may be at most {settings.attachment_unsent_mb:g} MB here.")
    row = await attachment_store.add(
        session, user_id=user.id, file=file, unsent_bytes=int(settings.attachment_unsent_mb * 1024 * 1024),
        unsent_max_age=timedelta(hours=settings.attachment_unsent_hours),
    )  # fmt: skip
    return AttachmentOut.model_validate(row)


@router.get("/attachments/{attachment_id}", response_class=Response)
async def download(attachment_id: Id, user: CurrentUser, session: SessionDep) -> Response:
    row = await attachment_store.get(session, user_id=user.id, attachment_id=attachment_id)
    if row is None:
        raise HTTPException(status_code=404, detail="Attachment not found")
    return Response(content=row.data, media_type=row.mime)


@router.get("/conversations/{conversation_id}/attachments")
async def of_conversation(conversation_id: Id, user: CurrentUser, session: SessionDep) -> list[AttachmentOut]:
    rows = await attachment_store.of_conversation(session, user_id=user.id, conversation_id=conversation_id)
    if rows is None:
        raise HTTPException(status_code=404, detail="Conversation not found")
    return [AttachmentOut.model_validate(row) for row in rows]
