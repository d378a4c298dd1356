"""Reading a ChatGPT data export's conversations.json.

Each conversation's messages form a tree under `mapping` (every edit or
regeneration starts a branch), as codhechat's do: every branch is imported, and
`current_node`, the message ChatGPT showed last, ends the path shown. Only what
codhechat can show is kept: user and assistant text (a message whose parent is not
kept follows its nearest kept ancestor). Everything else is counted and reported,
never dropped silently: system and tool messages, assistant messages addressed to a
tool (code, browsing), hidden messages (custom instructions), non-text parts
(images, files, audio), and empty nodes.

The whole file is checked before anything is written: one malformed
conversation is reported with where it is, and nothing is imported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codhechat.commands.import_file import MalformedFile
from codhechat.models import PREVIOUS, ConversationRecord, MessageRecord, MessageStatus, title_for

TEXT_TYPES = ("text", "multimodal_text")


@dataclass
class ChatGPTImport:
    conversations: list[ConversationRecord] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)  # what (singular) -> how many
    empty_conversations: list[str] = field(default_factory=list)


def looks_like_chatgpt(data: Any) -> bool:
    """A list of conversations with a `mapping` (an empty list counts too)."""
    return isinstance(data, list) and all(isinstance(item, dict) and "mapping" in item for item in data[:1])


class _Malformed(Exception):
    pass


def parse(data: list[Any], path: Path) -> ChatGPTImport:
    result = ChatGPTImport()
    for index, item in enumerate(data, 1):
        title = item.get("title") if isinstance(item, dict) else None
        where = f"conversation {index}" + (f" ({title!r})" if isinstance(title, str) else "")
        try:
            _parse_conversation(item, result)
        except _Malformed as exc:
            raise _bad(path, where, str(exc)) from None
        except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
            raise _bad(path, where, f"unexpected structure ({type(exc).__name__}: {exc})") from None
    return result


def _bad(path: Path, where: str, problem: str) -> MalformedFile:
    return MalformedFile(
        f"{path} is not a readable ChatGPT export: {where}: {problem}. Nothing was imported.",
        "Import the conversations.json from an unmodified ChatGPT data export "
        "(Settings > Data controls > Export data).",
    )


def _parse_conversation(item: Any, result: ChatGPTImport) -> None:
    if not isinstance(item, dict):
        raise _Malformed("not an object")
    mapping = item.get("mapping")
    if not isinstance(mapping, dict) or not all(isinstance(n, dict) for n in mapping.values()):
        raise _Malformed("`mapping` must be an object of message nodes")
    branch = _displayed_branch(mapping, item.get("current_node"))  # checks the links on the way
    left_out = result.left_out
    conversation_time = _time(item.get("create_time"))
    messages: list[MessageRecord] = []
    kept: dict[str, int | None] = {}  # node -> the index of it, or of its nearest kept ancestor
    for node_id in _parents_first(mapping):
        node = mapping[node_id]
        parent = node.get("parent")
        anchor = kept.get(parent) if isinstance(parent, str) else None
        kept[node_id] = anchor
        message = node.get("message")
        if message is None:
            left_out["empty node"] += 1
            continue
        if not isinstance(message, dict):
            raise _Malformed("a node's `message` must be an object or null")
        record = _message(message, left_out, default_time=conversation_time)
        if record is not None:
            messages.append(replace(record, parent=anchor))
            kept[node_id] = len(messages) - 1
    key_of = {id(node): key for key, node in mapping.items()}
    current = next((kept[key_of[id(n)]] for n in reversed(branch) if kept.get(key_of[id(n)]) is not None), None)

    raw_title = item.get("title")
    if raw_title is not None and not isinstance(raw_title, str):
        raise _Malformed("`title` must be a string")
    if not messages:
        result.empty_conversations.append(raw_title or "(untitled)")
        return
    shown = _path(messages, current)
    first_user = next((m.content for m in shown if m.role == "user"), shown[0].content)
    title = " ".join((raw_title or "").split()) or title_for(first_user)
    created = conversation_time or messages[0].created_at
    updated = _time(item.get("update_time")) or max(m.created_at for m in messages)
    model = item.get("default_model_slug")
    if not isinstance(model, str):
        model = next((m.model for m in reversed(shown) if m.model), None)
    result.conversations.append(
        ConversationRecord(
            title=title,
            created_at=created,
            updated_at=max(created, updated),
            model=model,
            messages=messages,
            current=current,
        )
    )


def _parents_first(mapping: dict[str, Any]) -> list[str]:
    """Every node reachable from a root, each after its parent (its children in the order
    its `children` lists them, else the file's): the order to store them in."""
    children: dict[str, list[str]] = {}
    roots = []
    for key, node in mapping.items():
        parent = node.get("parent")
        if parent is None:
            roots.append(key)
        elif isinstance(parent, str) and parent in mapping:
            children.setdefault(parent, []).append(key)
        else:
            raise _Malformed(f"a node's parent {parent!r} is not in `mapping`")
    for key, kids in children.items():
        listed = mapping[key].get("children")
        if isinstance(listed, list):
            place = {child: i for i, child in enumerate(listed) if isinstance(child, str)}
            kids.sort(key=lambda child: place.get(child, len(place)))
    order: list[str] = []
    stack = roots[::-1]
    while stack:
        key = stack.pop()
        order.append(key)
        stack.extend(children.get(key, [])[::-1])
    if len(order) < len(mapping):
        raise _Malformed("the `parent` links loop (some nodes lead to no root)")
    return order


def _path(messages: list[MessageRecord], current: int | None) -> list[MessageRecord]:
    """The messages from the first to `current` (the last message if None), following parents."""
    index: int | None = current if current is not None else len(messages) - 1
    path = []
    while index is not None:
        path.append(messages[index])
        parent = messages[index].parent
        index = (index - 1 if index else None) if parent == PREVIOUS else parent
    return path[::-1]


def _displayed_branch(mapping: dict[str, Any], current: Any) -> list[dict[str, Any]]:
    """Root-first nodes from the root to `current_node`, following `parent`."""
    if current is None:
        current = _last_leaf(mapping)
        if current is None:
            return []
    if not isinstance(current, str) or current not in mapping:
        raise _Malformed(f"`current_node` {current!r} is not in `mapping`")
    branch = []
    seen: set[str] = set()
    node_id: Any = current
    while node_id is not None:
        if not isinstance(node_id, str) or node_id not in mapping:
            raise _Malformed(f"a node's parent {node_id!r} is not in `mapping`")
        if node_id in seen:
            raise _Malformed(f"the `parent` links loop at node {node_id!r}")
        seen.add(node_id)
        node = mapping[node_id]
        branch.append(node)
        node_id = node.get("parent")
    return branch[::-1]


def _last_leaf(mapping: dict[str, Any]) -> str | None:
    """No current_node (older exports): follow the newest child from the root."""
    roots = [key for key, node in mapping.items() if node.get("parent") is None]
    if not roots:
        return None
    node_id = roots[0]
    seen = set()
    while (children := mapping[node_id].get("children")) and node_id not in seen:
        seen.add(node_id)
        if not isinstance(children, list) or children[-1] not in mapping:
            raise _Malformed(f"node {node_id!r} has a child that is not in `mapping`")
        node_id = children[-1]
    return node_id


def _message(message: dict[str, Any], left_out: Counter[str], *, default_time: str | None) -> MessageRecord | None:
    author = message.get("author")
    if not isinstance(author, dict):
        raise _Malformed("a message has no `author`")
    role = author.get("role")
    content = message.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("content_type"), str):
        raise _Malformed("a message's `content` must be an object with a `content_type`")
    metadata = message.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}

    if role in ("system", "tool"):
        left_out[f"{role} message"] += 1
        return None
    if role not in ("user", "assistant"):
        left_out[f"message from {role!r}"] += 1
        return None
    if message.get("recipient", "all") not in ("all", None):
        left_out["tool message"] += 1  # the assistant calling a tool (code, browsing)
        return None
    if metadata.get("is_visually_hidden_from_conversation"):
        left_out["hidden message"] += 1  # custom instructions and the like
        return None

    content_type = content["content_type"]
    if content_type not in TEXT_TYPES:
        left_out[f"non-text message ({content_type})"] += 1
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise _Malformed("a text message's `parts` must be a list")
    texts = []
    for part in parts:
        if isinstance(part, str):
            if part.strip():
                texts.append(part)
        else:
            kind = part.get("content_type") if isinstance(part, dict) else None
            left_out[f"non-text part ({kind or type(part).__name__})"] += 1
    if not texts:
        if all(isinstance(p, str) for p in parts):
            left_out["empty node"] += 1
        return None
    created = _time(message.get("create_time")) or default_time
    if created is None:
        raise _Malformed("a message has no `create_time` and neither has its conversation")
    status = message.get("status")
    model = metadata.get("model_slug") if role == "assistant" else None
    return MessageRecord(
        role=role,
        content="\n\n".join(texts),
        created_at=created,
        status=(MessageStatus.COMPLETE if status in (None, "finished_successfully") else MessageStatus.PARTIAL),
        model=model if isinstance(model, str) else None,
    )


def _time(value: Any) -> str | None:
    """ChatGPT writes Unix times as floats; some tools rewrite them as ISO text."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Malformed(f"{value!r} is not a time")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    if isinstance(value, str):
        from codhechat.native_format import normalise_time

        try:
            return normalise_time(value)
        except ValueError:
            raise _Malformed(f"{value!r} is not a time") from None
    raise _Malformed(f"{value!r} is not a time")
