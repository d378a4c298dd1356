"""Users: register, and see only yourself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from codhechat.server import crud
from codhechat.server.deps import Ctx, CurrentUser, RateLimited, SessionDep
from codhechat.server.schemas import MAX_DB_INT, ConversationCreate, ConversationOut, UserCreate, UserOut
from codhechat.server.security import hash_password

router = APIRouter(prefix="/users", tags=["users"])
UserId = Annotated[int, Path(ge=1, le=MAX_DB_INT)]


def _me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, username=user.username)


@router.post("/", dependencies=[RateLimited])
async def register(body: UserCreate, session: SessionDep, ctx: Ctx) -> UserOut:
    minimum = ctx.settings.password_min_length
    if len(body.password) < minimum:
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"Password must be at least {minimum} characters long",
        )
    if await crud.get_user_by_username(session, username=body.username) is not None:
        raise HTTPException(status_code=400, detail="Username already registered")
    hashed = await hash_password(body.password)
    user = await crud.create_user(session, username=body.username, hashed_password=hashed)
    if user is None:  # lost a race for the name
        raise HTTPException(status_code=400, detail="Username already registered")
    return UserOut(id=user.id, username=user.username, conversations=[])


@router.get("/")
async def list_users(user: CurrentUser) -> list[UserOut]:
    """Only the caller: nobody can enumerate the other users."""
    return [_me(user)]


@router.get("/me")
async def read_me(user: CurrentUser) -> UserOut:
    return _me(user)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(user: CurrentUser, session: SessionDep) -> Response:
    """Extension: delete the account with everything it owns; its tokens stop working
    (a later account with the same name is a different user, with a different id)."""
    await crud.delete_user(session, user_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{user_id}")
async def read_user(user_id: UserId, user: CurrentUser) -> UserOut:
    if user_id != user.id:
        raise HTTPException(status_code=404, detail="User not found")
    return _me(user)


@router.post("/{user_id}/conversations/")
async def create_conversation(
    user_id: UserId, body: ConversationCreate, user: CurrentUser, session: SessionDep
) -> ConversationOut:
    if user_id != user.id:
        raise HTTPException(status_code=403, detail="Not enough permissions to create conversations for this user")
    conversation = await crud.create_conversation(session, user_id=user.id, name=body.name)
    return ConversationOut(id=conversation.id, name=conversation.name, created_at=conversation.created_at, messages=[])
