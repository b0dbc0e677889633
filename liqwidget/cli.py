"""The ``liqwidget`` command. Each sub-command lives in its own module under
``liqwidget/commands/`` and registers itself with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from . import commands

#: Set to show the Python traceback of an unexpected error instead of its one-line summary.
DEBUG_VAR = "LIQWIDGET_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liqwidget",
        description="Crypto-futures liquidation maps: real liquidations and estimated clusters.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a command's own errors are caught there; this is the net
        if os.environ.get(DEBUG_VAR):
            raise
        text = " ".join(str(exc).split()) or "no details"
        print(
            f"error: {type(exc).__name__}: {text} (set {DEBUG_VAR}=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
