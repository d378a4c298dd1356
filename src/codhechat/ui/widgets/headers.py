"""The lines around a message's text: its header (who, which model, tokens, time), why a
reply ended, the files it carries, what was left out of the history sent."""

from __future__ import annotations

from rich.text import Text

from codhechat.models import Attachment, FinishReason, MessageStatus
from codhechat.textsafe import visible


def header_of(
    role: str, model: str | None, usage: tuple[int, int] | None = None, elapsed_ms: int | None = None
) -> Text:
    """Who wrote it; for a reply, the model, its token usage, how long it took and how fast."""
    if role == "user":
        return Text("You", style="bold")
    header = Text.assemble(("Assistant", "bold"), (f"  {visible(model)}" if model else "", "dim"))
    if usage is not None:
        header.append(f"  {usage[0]:,} + {usage[1]:,} tokens", style="dim")
    if elapsed_ms:
        header.append(f"  {elapsed_ms / 1000:.1f} s", style="dim")
        if usage is not None and usage[1]:
            header.append(f"  {usage[1] / (elapsed_ms / 1000):,.0f} tokens/s", style="dim")
    return header


def notice_of(status: MessageStatus, error: str | None, finish_reason: str | None = None) -> Text | None:
    """Why a reply ended, if it did not end as a whole answer, and what can be done."""
    if status == MessageStatus.ERROR:
        hint = "" if "Ctrl+R" in (error or "") else "  (Ctrl+R retries)"
        return Text(f"✗ {visible(error or 'The reply failed.')}{hint}", style="bold red")
    if status == MessageStatus.PARTIAL:
        return Text("■ Stopped: the reply is incomplete.  (Ctrl+R retries, F7 continues)", style="italic")
    if finish_reason == FinishReason.LENGTH:
        return Text("■ Stopped at the length limit: the reply may be incomplete.  (F7 continues)", style="italic")
    if finish_reason == FinishReason.CONTENT_FILTER:
        return Text("■ Stopped by the endpoint's content filter.", style="italic")
    return None


def _size(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return ""


def attachment_chips(attachments: tuple[Attachment, ...]) -> Text:
    """The files a message carries, as chips: 📎 name (size)."""
    chips = Text()
    for attachment in attachments:
        chips.append(f" 📎 {visible(attachment.name)} ({_size(attachment.size)}) ", style="reverse")
        chips.append(" ")
    return chips


def thought_for(thinking_ms: int | None) -> str:
    return f"Thought for {thinking_ms / 1000:.1f} s" if thinking_ms is not None else "Thinking"


def prompt_note(left_out: int, window: int | None) -> Text | None:
    if not left_out:
        return None
    fit = f" (they do not fit the {window:,}-token context)" if window else ""
    return Text(f"{left_out} earlier message{'s' if left_out != 1 else ''} not sent{fit}", style="dim italic")
