"""How results look: one table layout for every listing, amounts with two decimals,
and a progress display on stderr for long work when, and only when, it is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

NUMERIC_HEADERS = frozenset(
    {
        "AMOUNT",
        "BATCH",
        "BYTES",
        "CHARGE",
        "CHARGED",
        "CLAIMS",
        "ISA13",
        "OUTSTANDING",
        "PAID",
        "PATIENT",
        "PLB",
        "SIZE",
        "AGE",
    }
)
"""Columns of counts and money: right-aligned, so that digits line up."""


def money(value: Decimal | str | int | None) -> str:
    """An amount as people read it on a remittance: always two decimals, ``-`` when absent."""
    return "-" if value is None or value == "" else f"{Decimal(value):.2f}"


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """Every listing's layout: a header, columns two spaces apart, numbers right-aligned.

    Laid out by rich (no box, no colour, no width limit), then written as plain
    text without trailing spaces, so that ``grep``, ``cut`` and ``sort`` work on
    it line by line.
    """
    from io import StringIO  # rich only when a table is printed: --help starts fast

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    layout = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 1))
    for header in headers:
        right = header in NUMERIC_HEADERS
        layout.add_column(Text(header), justify="right" if right else "left", no_wrap=True)
    for row in rows:
        layout.add_row(*(Text(cell) for cell in row))
    # Room for every row on one line (twice the characters, for wide ones): never wrapped.
    width = 2 * sum(
        len(h) + max((len(r[i]) for r in rows), default=0) + 2 for i, h in enumerate(headers)
    )
    out = StringIO()
    console = Console(
        file=out, width=width, color_system=None, highlight=False, emoji=False, markup=False
    )
    console.print(layout, crop=False, soft_wrap=False)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def plural(count: int, noun: str) -> str:
    """``1 claim``, ``2 claims``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Step:
    """One piece of long work on the display: advance it as parts finish."""

    def __init__(self, bar: RichProgress | None, task: TaskID | None) -> None:
        self._bar, self._task = bar, task

    def advance(self, description: str | None = None) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=1, description=description)

    def describe(self, description: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=description)


class Display:
    """Messages and progress bars on stderr.

    Messages (what a run found or did) go to stderr as lines unless the
    command is quiet (``--json``). Progress bars appear only on a terminal:
    piped or logged stderr stays free of them.
    """

    def __init__(self, bar: RichProgress | None, quiet: bool) -> None:
        self._bar, self._quiet = bar, quiet

    def say(self, message: str) -> None:
        if self._quiet:
            return
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(message, err=True)

    @property
    def messages(self) -> Callable[[str], None]:
        """``say`` as the pipeline's progress callback."""
        return self.say

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Step]:
        """A bar for ``total`` parts, or a spinner with the time spent when the
        size is unknown (one upload): either way the operator sees it is alive."""
        if self._bar is None:
            yield Step(None, None)
            return
        task = self._bar.add_task(description, total=total)
        self._bar.refresh()  # shown at once, however short the work turns out to be
        try:
            yield Step(self._bar, task)
        finally:
            self._bar.remove_task(task)


def _terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


@contextmanager
def progress(quiet: bool) -> Iterator[Display]:
    """The display for one command. rich is imported only when stderr is a terminal,
    so scripted runs pay nothing for it at start-up."""
    if quiet or not _terminal():
        yield Display(None, quiet)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        yield Display(bar, quiet)


def examples(*commands: str) -> str:
    """A command's ``--help`` epilog: its examples, kept line by line as written
    (click would rewrap them otherwise)."""
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)
