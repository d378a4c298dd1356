"""Users: register, and see only yourself."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from codhechat.server import crud
from codhechat.server.deps import Ctx, CurrentUser, RateLimited, SessionDep
from codhechat.server.schemas import ConversationOut, ConversationCreate, UserCreate, UserOut
from codhechat.server.security import hash_password

router = APIRouter(prefix="/users", tags=["users"])


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


@router.get("/{user_id}")
async def read_user(user_id: int, user: CurrentUser) -> UserOut:
    if user_id != user.id:
        raise HTTPException(status_code=404, detail="User not found")
    return _me(user)


@router.post("/{user_id}/conversations/")
async def create_conversation(
    user_id: int, body: ConversationCreate, user: CurrentUser, session: SessionDep
) -> ConversationOut:
    if user_id != user.id:
        raise HTTPException(
            status_code=403, detail="Not enough permissions to create conversations for this user"
        )
    conversation = await crud.create_conversation(session, user_id=user.id, name=body.name)
    return ConversationOut(
        id=conversation.id, name=conversation.name, created_at=conversation.created_at, messages=[]
    )
