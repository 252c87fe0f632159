"""What the commands print: one console, progress bars and tables shared by the CLI and the demo."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

# Lines are never wrapped (a log or a pipe would get an 80-column console), and nothing is
# highlighted: a message quotes file names and values as written.
console = Console(soft_wrap=True, highlight=False)
# Errors and interruptions go to standard error, so a run whose results are piped to a file still
# shows why it stopped (as the console command's own start-up interruption does).
error_console = Console(stderr=True, soft_wrap=True, highlight=False)


def plain(value: object) -> str:
    """``value`` as text the console prints as written: a path or name with ``[...]`` in it is never
    read as markup (``/tmp/run[draft]`` would lose ``[draft]``, ``out[/x]`` would stop the command)."""
    return escape(str(value))


def print_warning(warning: object) -> None:
    """One warning line; its text (file names, values) is printed as written, never as markup."""
    console.print(f"[yellow]warning:[/yellow] {plain(warning)}")


def progress_bar() -> Progress:
    """A progress bar on the console: spinner, description, bar, elapsed time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,  # a log file gets the result lines, not spinner frames
    )


def table(title: str, columns: tuple[str, ...], right: tuple[str, ...] = ()) -> Table:
    """A console table with these columns; those in ``right`` (counts) are right-aligned."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


def print_ingest_summary(report: dict, out_dir: Path) -> None:
    """The ingest report as a console table: read = accepted + quarantined per file, rules and warnings."""
    ingest = table(
        f"ingest → {plain(out_dir)}",
        ("file", "encoding", "read", "accepted", "quarantined", "read = accepted + quarantined"),
        right=("read", "accepted", "quarantined"),
    )
    for f in report["files"]:
        ok = f["rows_read"] == f["accepted"] + f["quarantined"]
        ingest.add_row(
            Path(f["path"]).name,
            f["encoding"],
            f"{f['rows_read']:,}",
            f"{f['accepted']:,}",
            f"{f['quarantined']:,}",
            f"{f['rows_read']:,} = {f['accepted']:,} + {f['quarantined']:,} {'✓' if ok else '✗'}",
        )
    console.print(ingest)
    if report["quarantine_by_rule"]:
        console.print("quarantined by rule: " + ", ".join(f"{k} {v}" for k, v in report["quarantine_by_rule"].items()))
    for warning in report["warnings"]:
        print_warning(warning)
