"""The ``jumpup`` console command: the CLI (``jumpup.pipelines.cli``), started so that a Ctrl-C
at any moment is answered in one line.

Importing the CLI takes a second or more (pandas, pandera, typer, LightGBM). A Ctrl-C in that
second used to reach Python's default handler, which prints a traceback. Once the CLI is
imported, each command answers Ctrl-C itself (``jumpup round`` says what it left behind) and
typer ends any other command with exit code 130.
"""

from __future__ import annotations

import sys

INTERRUPTED = "interrupted while jumpup was starting; nothing was run"


def main() -> None:
    """Import the CLI and run it; a Ctrl-C during the import exits 130 with one line on stderr."""
    try:
        from jumpup.pipelines.cli import app
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        raise SystemExit(130) from None
    app()
