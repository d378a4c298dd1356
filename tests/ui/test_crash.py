"""What a user sees of a crash: one plain line, and a crash.log without local variables."""

from __future__ import annotations

import pytest

from codhechat import paths
from codhechat.ui.screens.chat import ChatScreen
from tests.ui.conftest import AppFactory
from tests.ui.test_chat import SIZE


async def test_a_crash_shows_one_plain_line_and_logs_no_local_variables(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: ChatScreen) -> None:
        api_key = "sk-local-variable-value"
        raise ZeroDivisionError("boom" + api_key[:0])

    monkeypatch.setattr(ChatScreen, "action_toggle_sidebar", broken)
    app = make_app()
    with pytest.raises(ZeroDivisionError):  # run_test raises the app's first error again
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+b")
            await pilot.pause()
    shown = capsys.readouterr().err
    assert shown.startswith("codhechat stopped on an unexpected error: ZeroDivisionError: boom\n")
    assert "Traceback" not in shown and "sk-local-variable-value" not in shown
    log = (paths.state_dir() / "crash.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError: boom" in log
    assert "sk-local-variable-value" not in log
