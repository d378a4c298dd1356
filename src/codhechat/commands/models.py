"""`codhechat models`: every provider's models, grouped, with why one has none."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from codhechat.commands import EXIT_ERROR, EXIT_OK
from codhechat.commands.output import Style, json_line
from codhechat.textsafe import visible


def run(args: argparse.Namespace, settings: Any) -> int:
    if settings.server:
        print(
            f"codhechat: in remote mode the server ({visible(settings.server)}) chooses the model.",
            file=sys.stderr,
        )
        return EXIT_OK
    from codhechat.providers import Providers

    providers = Providers(settings)

    async def ask() -> list[Any]:
        try:
            return await providers.catalogue()
        finally:
            await providers.aclose()

    groups = asyncio.run(ask())
    out, style = sys.stdout, Style(sys.stdout)
    for group in groups:
        if args.json:
            for model in group.models:
                out.write(json_line({"provider": group.provider, "model": model}))
            if group.error:
                out.write(json_line({"provider": group.provider, "error": group.error}))
            continue
        reason = f"  ({visible(group.error)})" if group.error else ""
        out.write(f"{style.bold(group.provider)}  {style.dim(visible(group.endpoint))}{reason}\n")
        for model in group.models:
            out.write(f"  {visible(model)}\n")
    return EXIT_OK if any(group.models for group in groups) else EXIT_ERROR
