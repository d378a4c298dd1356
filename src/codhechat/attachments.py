"""Files attached to a message: what may be sent, and how the model gets them.

Text and code go to the model as text parts with their file name; PNG, JPEG, GIF and
WebP images as `image_url` parts holding a base64 data URL (for vision models); PDFs
as their extracted text (pypdf). Anything else, or anything over the size cap, is
refused with the reason before the message is sent: a file is only ever sent because
the user attached it.

An attachment's bytes are stored once, content-addressed by SHA-256 (the store keeps
blobs; messages keep references), and sent again as history on later turns within the
history window.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from codhechat.errors import UsageError
from codhechat.models import AttachedFile, Attachment

DEFAULT_MAX_MB = 10
IMAGE_TYPES = {  # magic bytes -> MIME type
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def content_part(file: AttachedFile) -> dict[str, object]:
    """The Chat Completions content part that carries a file."""
    a = file.attachment
    if a.kind == "image":
        url = f"data:{a.mime};base64,{base64.b64encode(file.data).decode('ascii')}"
        return {"type": "image_url", "image_url": {"url": url}}
    text = pdf_text(file.data) if a.kind == "pdf" else file.data.decode("utf-8", "replace")
    what = " (the text of a PDF)" if a.kind == "pdf" else ""
    return {"type": "text", "text": f"File {a.name}{what}:\n\n{text}"}


def image_type(data: bytes) -> str | None:
    for magic, mime in IMAGE_TYPES.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def prepare(name: str, data: bytes, *, max_mb: float = DEFAULT_MAX_MB) -> AttachedFile:
    """Check that `data` can be sent, and say what it is; a UsageError says why not."""
    if len(data) > max_mb * 1024 * 1024:
        raise UsageError(
            f"{name} is {len(data) / 1024 / 1024:.1f} MB; attachments are limited to {max_mb:g} MB.",
            "Attach a smaller file, or raise attachment_max_mb in the config.",
        )
    digest = hashlib.sha256(data).hexdigest()
    if mime := image_type(data):
        return AttachedFile(Attachment(name, mime, "image", len(data), digest), data)
    if data.startswith(b"%PDF-"):
        pdf_text(data)  # refuses an unreadable PDF now, not when it is sent
        return AttachedFile(Attachment(name, "application/pdf", "pdf", len(data), digest), data)
    if b"\x00" not in data[:8192]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return AttachedFile(Attachment(name, "text/plain", "text", len(data), digest), data)
    raise UsageError(
        f"{name} cannot be sent: it is neither text, a PDF, nor a PNG, JPEG, GIF or WebP image.",
        "Attach text or code, a PDF, or an image.",
    )


def read_file(path: Path, *, max_mb: float = DEFAULT_MAX_MB) -> AttachedFile:
    try:
        if path.stat().st_size > max_mb * 1024 * 1024:
            raise UsageError(
                f"{path.name} is {path.stat().st_size / 1024 / 1024:.1f} MB; attachments are limited to {max_mb:g} MB.",
                "Attach a smaller file, or raise attachment_max_mb in the config.",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder, not a file.") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from None
    return prepare(path.name, data, max_mb=max_mb)


def pdf_text(data: bytes) -> str:
    """A PDF's text, page by page (pypdf, imported only for PDFs)."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"The PDF cannot be read: {exc}.", "Attach another copy, or its text.") from None
    return "\n\n".join(text.strip() for text in pages if text.strip())
