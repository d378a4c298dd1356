"""The command line: help, version, config, errors, and what start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codhechat import __version__
from codhechat.cli import main

HEAVY = ["textual", "openai", "fastapi", "sqlalchemy", "sqlite_utils", "httpx", "mcp"]


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_help_imports_nothing_heavy() -> None:
    loaded = json.loads(
        run_python(
            "import sys, json, contextlib, io\n"
            "from codhechat.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--help'])\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
        )
    )
    assert loaded == []


def test_the_ui_does_not_import_storage_or_network_code() -> None:
    loaded = json.loads(
        run_python(
            "import sys, json\n"
            "import codhechat.ui.app\n"
            "print(json.dumps([m for m in ['sqlite_utils', 'sqlite3', 'openai', 'httpx', 'websockets',"
            " 'fastapi', 'mcp'] if m in sys.modules]))"
        )
    )
    assert loaded == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"codhechat {__version__}"


def test_config_shows_settings_masked_and_file_locations(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123456")
    assert main(["--model", "llama3", "config"]) == 0
    out = capsys.readouterr().out
    assert "llama3" in out
    assert "sk-secret-value-123456" not in out
    assert "config file" in out and "database" in out


def test_config_lists_preset_names(capsys: pytest.CaptureFixture[str]) -> None:
    from codhechat import paths

    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[presets]\ncoder = "You write terse code."\nreviewer = "Be critical."\n')
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert any(line.split() == ["presets", "coder,", "reviewer"] for line in out.splitlines())
    assert "You write terse code." not in out  # names only


def test_a_bad_config_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    from codhechat import paths

    paths.config_file().parent.mkdir(parents=True)
    paths.config_file().write_text("history_window = -3\n")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "history_window" in err
    assert "Traceback" not in err


def test_module_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "codhechat", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout


def test_an_unexpected_error_shows_one_line_and_no_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = (
        "from codhechat.ui.app import CodheChatApp\n"
        "from codhechat.ui.screens.chat import ChatScreen\n"
        "class Broken:\n"
        "    mode = 'local'; model = 'm'; secret = 'sk-hidden-local-value'\n"
        "    async def list_conversations(self, **kw): raise KeyError('boom')\n"
        "    def watch_connection(self, listener): return lambda: None\n"
        "    async def aclose(self): pass\n"
        "app = CodheChatApp(Broken())\n"
        "app.run(headless=True)\n"
        "raise SystemExit(app.return_code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Traceback" not in output and "sk-hidden-local-value" not in output
    assert "unexpected error: KeyError: 'boom'" in output
    from codhechat import paths

    assert "KeyError" in (paths.state_dir() / "crash.log").read_text()


def test_continue_and_conversation_open_the_app_only(capsys: pytest.CaptureFixture[str]) -> None:
    from codhechat.cli import build_parser

    assert build_parser().parse_args(["-c"]).resume_latest
    assert build_parser().parse_args(["--conversation", "7"]).resume_id == 7
    # ask has a -c and a --conversation of its own, which are not the app's.
    assert build_parser().parse_args(["ask", "--conversation", "7", "hi"]).conversation == 7
    for argv in (["-c", "list"], ["--conversation", "7", "show", "7"], ["-c", "--conversation", "7"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "use them without a COMMAND" in capsys.readouterr().err


def test_list_says_pinned_come_first(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["list", "--help"])
    assert "pinned ones first" in capsys.readouterr().out
