"""Progress bars for long work (bootstrap replicates, MRP sampling, studies), on stderr.

Library functions take ``progress=False`` (silent: the default, so scripts and tests print
nothing); the CLI passes ``progress=None``, which shows a `rich` bar only when stderr is a
terminal, so redirected output and ``--json`` stay clean.

Examples
--------
>>> with progress_bar(3, "replicates", enabled=False) as advance:
...     for _ in range(3):
...         advance()
>>> show(None) in (True, False)
True
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def show(progress: bool | None) -> bool:
    """Whether to draw a bar: ``progress`` itself, or (None) whether stderr is a terminal."""
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


@contextmanager
def progress_bar(total: float | None, description: str,
                 enabled: bool | None = False) -> Iterator[Callable[..., None]]:
    """A context yielding ``advance(k=1, total=None)``; draws a rich bar on stderr when
    :func:`show` says so (``total=None``: a spinner with elapsed time)."""
    if not show(enabled):
        yield lambda k=1, total=None: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    cols = ([SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
            if total is None else
            [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn(), TimeRemainingColumn()])
    with Progress(*cols, console=Console(stderr=True), transient=True) as prog:
        task = prog.add_task(description, total=total)

        def advance(k: float = 1, total: float | None = None) -> None:
            if total is not None:
                prog.update(task, total=total)
            prog.advance(task, k)

        yield advance


__all__ = ["progress_bar", "show"]
