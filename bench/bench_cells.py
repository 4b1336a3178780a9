"""Timings of the cell engine: encode, collapse, broadcast (categorical vs string columns).

The frame is :func:`bench.synth.make_sample` (six variables with 51, 6, 2, 5, 4 and 3 levels),
once with pandas ``category`` columns and once with plain string columns (pandas' default
``str`` dtype, which must be factorized). Each step is timed alone, min over repeats.

Examples
--------
>>> rows = run(5_000, reps=1)
>>> [r["step"] for r in rows][:3]
['encode', 'collapse', 'broadcast']
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from calib.core.cells import broadcast, collapse, encode

from .synth import VARIABLES, make_sample


def _best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(n: int, reps: int = 5) -> list[dict]:
    """Time encode / collapse / broadcast at ``n`` rows for categorical and string columns."""
    rows = []
    for kind, categorical in (("categorical", True), ("string", False)):
        df, _ = make_sample(n, seed=7, categorical=categorical)
        w = np.random.default_rng(1).uniform(0.5, 2.0, n)
        enc = encode(df, VARIABLES)
        cells, row_cell = collapse(enc, w)
        g = np.random.default_rng(2).uniform(0.5, 2.0, cells.n_cells)
        for step, fn in (
            ("encode", lambda df=df: encode(df, VARIABLES)),
            ("collapse", lambda enc=enc, w=w: collapse(enc, w)),
            ("broadcast", lambda rc=row_cell, g=g: broadcast(g, rc)),
            (
                "all three",
                lambda df=df, w=w, g=g: broadcast(g, collapse(encode(df, VARIABLES), w)[1]),
            ),
        ):
            rows.append(
                {
                    "step": step,
                    "columns": kind,
                    "n": n,
                    "cells": cells.n_cells,
                    "time": _best(fn, reps),
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown table of :func:`run` records (milliseconds)."""
    lines = ["| step | columns | n | cells | time (ms) |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['step']} | {r['columns']} | {r['n']:,} | {r['cells']:,} | {1e3 * r['time']:.1f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="calib cell engine timings")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args(argv)
    print(format_table(run(a.n, a.reps)))


if __name__ == "__main__":
    main()
