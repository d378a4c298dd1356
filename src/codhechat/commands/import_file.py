"""Reading a file to import, defensively.

An import file comes from elsewhere (a ChatGPT export, a colleague's JSON): it may be
a zip bomb, JSON nested a million levels deep, or text SQLite cannot store. Each gets
a clear message and nothing is imported; the limits are given in `import --help`.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codhechat.commands import IMPORT_MAX_CONVERSATIONS, IMPORT_MAX_DEPTH, IMPORT_MAX_MB
from codhechat.errors import CodheError, MalformedFile, UsageError
from codhechat.models import ConversationRecord

__all__ = ["ImportLimits", "MalformedFile", "check_records", "load_json"]


class ImportLimits:
    """What `codhechat import` reads at most, so that a hostile file (a zip bomb, JSON
    nested a million levels deep) meets a clear message instead of eating the memory."""

    MAX_MB = IMPORT_MAX_MB  # the file, or the conversations.json inside a zip, after unpacking
    MAX_DEPTH = IMPORT_MAX_DEPTH  # JSON nesting; a ChatGPT export needs about 12
    MAX_CONVERSATIONS = IMPORT_MAX_CONVERSATIONS

    def __init__(self, max_mb: int = MAX_MB) -> None:
        self.max_bytes = max_mb * 1024 * 1024
        self.max_mb = max_mb


def _too_big(path: Path, limits: ImportLimits) -> MalformedFile:
    return MalformedFile(
        f"{path} holds more than {limits.max_mb} MB of conversations; nothing was imported.",
        f"If it is a genuine export, raise the limit: codhechat import --max-size {limits.max_mb * 4} {path}",
    )


def load_json(path: Path, limits: ImportLimits | None = None) -> Any:
    """The file's JSON; a ChatGPT .zip is read for its conversations.json. Reads at most
    `limits.max_bytes` (declared sizes in a zip can lie, so the reading itself stops)."""
    limits = limits or ImportLimits()
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"]
                if not names:
                    raise MalformedFile(
                        f"{path} is a zip file without a conversations.json; nothing was imported.",
                        "Give the .zip of a ChatGPT data export, or the conversations.json in it.",
                    )
                name = min(names, key=len)
                if archive.getinfo(name).file_size > limits.max_bytes:
                    raise _too_big(path, limits)
                with archive.open(name) as member:
                    raw = member.read(limits.max_bytes + 1)
        else:
            if path.stat().st_size > limits.max_bytes:
                raise _too_big(path, limits)
            raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a file.") from None
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise CodheError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}.") from None
    if len(raw) > limits.max_bytes:
        raise _too_big(path, limits)
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        data = None  # nested beyond what the parser can hold: reported as too deep below
        depth = limits.MAX_DEPTH + 1
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedFile(
            f"{path} is not valid JSON ({exc}); nothing was imported.",
            "Import a file made by `codhechat export --format json`, or a ChatGPT conversations.json.",
        ) from None
    else:
        depth = _depth(data, limits.MAX_DEPTH)
    if depth > limits.MAX_DEPTH:
        raise MalformedFile(
            f"{path} is nested more than {limits.MAX_DEPTH} levels deep, which no export is; nothing was imported.",
            "Import a file made by `codhechat export --format json`, or a ChatGPT conversations.json.",
        )
    return data


def _depth(data: Any, limit: int) -> int:
    """How deeply `data` nests (lists and objects), counting no further than limit + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level > limit:
                return level
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def check_records(records: Sequence[ConversationRecord], path: Path, limits: ImportLimits) -> None:
    """Refuse, before anything is written, what the database cannot hold: more
    conversations than the limit, and text that is not valid Unicode (a lone surrogate
    such as "\\ud800" is valid JSON but cannot be stored)."""
    if len(records) > limits.MAX_CONVERSATIONS:
        raise MalformedFile(
            f"{path} holds {len(records):,} conversations, more than the {limits.MAX_CONVERSATIONS:,} "
            "one import takes; nothing was imported.",
            "Split the file, or import the conversations in several files.",
        )
    for i, record in enumerate(records, 1):
        fields = [("title", record.title), ("model", record.model)]
        for j, message in enumerate(record.messages, 1):
            fields += [(f"message {j} {key}", value) for key, value in
                       (("content", message.content), ("model", message.model), ("error", message.error))]  # fmt: skip
        for where, value in fields:
            if value is None:
                continue
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise MalformedFile(
                    f"{path} is malformed: conversation {i}, {where}: not valid Unicode text "
                    "(it holds a lone surrogate). Nothing was imported.",
                    "Fix that part of the file, or export it again.",
                ) from None
