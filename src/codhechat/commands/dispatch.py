"""Running a shell command: dispatch to its module (imported only when it runs, so
`codhechat list` does not load the model client) and the exit code for each kind of
failure, reported as `codhechat: message` plus a hint, never a traceback."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from codhechat.commands import EXIT_ENDPOINT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from codhechat.commands.output import report, silence_stdout
from codhechat.errors import CodheError, ConfigError, ModelError, UsageError


def run_guarded(args: argparse.Namespace, settings: Any) -> int:
    try:
        return _dispatch(args, settings)
    except UsageError as exc:
        report(exc)
        return EXIT_USAGE
    except ConfigError as exc:
        report(exc)
        return EXIT_USAGE
    except ModelError as exc:
        report(exc)
        return EXIT_ENDPOINT
    except CodheError as exc:
        report(exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as other Unix tools do.
        silence_stdout()
        return EXIT_OK


def _dispatch(args: argparse.Namespace, settings: Any) -> int:
    command = args.command
    if command == "ask":
        from codhechat.commands import ask

        return ask.run(args, settings)
    if command == "models":
        from codhechat.commands import models

        return models.run(args, settings)
    if command in ("list", "show", "search", "rename", "delete"):
        from codhechat.commands import manage

        return getattr(manage, f"run_{command}")(args, settings)
    if command == "export":
        from codhechat.commands import archive

        return archive.run_export(args, settings)
    if command == "import":
        from codhechat.commands import archive

        return archive.run_import(args, settings)
    raise UsageError(f"unknown command {command!r}")
