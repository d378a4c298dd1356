"""Attached images as thumbnails where the terminal can draw them, labelled chips
elsewhere. The capability is forced through the `thumbnails` setting (what `auto` would
detect in kitty or a Sixel terminal); textual-image draws the real widget."""

from __future__ import annotations

from pathlib import Path

import pytest

from codhechat.ui import graphics
from codhechat.ui.widgets.attachment_bar import AttachmentBar, AttachmentChip
from codhechat.ui.widgets.messages import MessageView, ReplyView
from codhechat.ui.widgets.thumbnail import PendingWithImages, Thumbnail, ThumbnailChip, ThumbnailedMessageView
from tests.fake_openai import FakeOpenAI
from tests.support.files import png
from tests.ui.conftest import AppFactory, type_text, wait_until

SIZE = (110, 36)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "pixel.png").write_bytes(png(16, 8))
    monkeypatch.chdir(work)
    return work


async def attach_pixel(pilot, app) -> None:  # type: ignore[no-untyped-def]
    await type_text(pilot, "what is @pix")
    await pilot.press("tab")
    await wait_until(pilot, lambda: app.query_one(AttachmentBar).files)


async def test_an_image_is_a_thumbnail_where_the_terminal_draws_images(
    make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path, tmp_path: Path
) -> None:
    from textual_image.widget import SixelImage

    database = tmp_path / "chat.db"
    app = make_app(thumbnails="sixel", database=database)
    async with app.run_test(size=SIZE) as pilot:
        await attach_pixel(pilot, app)
        [chip] = app.query(ThumbnailChip)
        assert chip.file.attachment.name == "pixel.png" and not app.query(AttachmentChip)
        await wait_until(pilot, lambda: chip.query(SixelImage))
        await wait_until(pilot, lambda: chip.query_one(SixelImage).region.area > 0)  # drawn, above its label
        assert chip.query_one(SixelImage).region.size == (16, 4)  # 4 lines, its shape kept (16x8 pixels)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        [sent] = app.query(PendingWithImages)  # the prompt just sent shows its image too
        await wait_until(pilot, lambda: sent.query(SixelImage) and sent.query_one(SixelImage).region.area > 0)
    # Reopened, the stored message shows its image under its chips.
    app = make_app(thumbnails="sixel", database=database, resume="latest")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query(ThumbnailedMessageView))
        view = app.query_one(ThumbnailedMessageView)
        await wait_until(pilot, lambda: view.query(Thumbnail) and view.query(SixelImage))
        assert "pixel.png" in app.export_screenshot()  # its chip too
        thumbnail = view.query_one(Thumbnail)
        await wait_until(pilot, lambda: thumbnail.region.area > 0)
        assert view.region.contains_region(thumbnail.region)


async def test_an_image_is_a_labelled_chip_elsewhere(
    make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path, tmp_path: Path
) -> None:
    database = tmp_path / "chat.db"
    app = make_app(database=database)  # auto, and not a terminal that draws images
    assert app.graphics is None
    async with app.run_test(size=SIZE) as pilot:
        await attach_pixel(pilot, app)
        assert [c.file.attachment.name for c in app.query(AttachmentChip)] == ["pixel.png"]
        assert not app.query(ThumbnailChip) and not app.query(Thumbnail)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.query(ReplyView) and app.query(ReplyView).last().status is not None)
        assert not app.query(PendingWithImages) and not app.query(Thumbnail)
    app = make_app(database=database, resume="latest")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.query(MessageView))
        assert not app.query(ThumbnailedMessageView) and not app.query(Thumbnail)


async def test_a_thumbnail_chip_is_removed_like_a_chip(
    make_app: AppFactory, fake_openai: FakeOpenAI, folder: Path
) -> None:
    app = make_app(thumbnails="kitty")
    async with app.run_test(size=SIZE) as pilot:
        await attach_pixel(pilot, app)
        app.query_one(ThumbnailChip).focus()
        await pilot.press("delete")
        await wait_until(pilot, lambda: not app.query(ThumbnailChip))
        assert app.query_one(AttachmentBar).files == []


def test_detection_from_the_environment() -> None:
    kitty = {"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}
    assert graphics.detect("auto", kitty, tty=True) == "kitty"
    assert graphics.detect("auto", {"TERM": "foot"}, tty=True) == "sixel"
    assert graphics.detect("auto", {"TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"}, tty=True) == "sixel"
    # tmux and screen pass neither protocol through; a plain xterm or a pipe draws none.
    assert graphics.detect("auto", {**kitty, "TMUX": "/tmp/tmux-0/default,1,0"}, tty=True) is None
    assert graphics.detect("auto", {"TERM": "screen-256color"}, tty=True) is None
    assert graphics.detect("auto", {"TERM": "xterm-256color"}, tty=True) is None
    assert graphics.detect("auto", kitty, tty=False) is None
    assert graphics.detect("off", kitty, tty=True) is None
    assert graphics.detect("sixel", {"TMUX": "x"}, tty=False) == "sixel"
