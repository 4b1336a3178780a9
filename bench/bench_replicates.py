"""Benchmark replicate variance with recalibration at 1M rows (issue 4 goal: 200 bootstrap
replicates, each re-raked, in at most 20x the time of one rake).

Run: ``.venv/bin/python bench/bench_replicates.py [--n 1000000] [--replicates 200]`` (prints
a markdown table, writes ``bench/out/replicates.md``). Data: :func:`bench.synth.make_sample`
(six categorical variables, 36,720 possible cells) plus a binary and a continuous outcome.
Each row is the best of ``--repeat`` runs in this one process, on the same machine, with the
1-minute load average recorded; the compiled draws run with every CPU (``CALIB_THREADS``) and
with one thread.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.synth import VARIABLES, make_sample
from calib import Sample
from calib.core.targets import Targets
from calib.core.threads import threads


def targets_of(shares: dict, n: float) -> Targets:
    rows = [(v, lv, s) for v, d in shares.items() for lv, s in d.items()]
    return Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "share"]),
                              population=float(n))


def best(fn, repeat: int) -> tuple[float, object]:
    out, t = None, np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    df, shares = make_sample(a.n, seed=2024)
    rng = np.random.default_rng(1)
    df["vote"] = (rng.random(a.n) < 0.4 + 0.1 * (df["sex"] == df["sex"].iloc[0])).astype(float)
    df["score"] = rng.normal(size=a.n)
    tg = targets_of(shares, a.n)
    base = Sample(df)
    t_rake, s = best(lambda: base.rake(tg), a.repeat)
    rows = [("one rake (rows -> cells -> IPF -> weights)", t_rake, "")]
    t, e = best(lambda: s.estimate("vote", variance="linearization"), a.repeat)
    rows.append(("linearized SE of a binary mean (calibration-aware)", t, f"se {e['se'].iloc[0]:.3g}"))
    t0 = time.perf_counter()
    s.estimate("vote", variance="bootstrap", replicates=2, seed=1)
    rows.append(("first compiled draw in this process (2 replicates: loads the kernels from "
                 "numba's cache)", time.perf_counter() - t0, ""))
    cpus = threads()
    for outcome, what, draw, nthreads in (
            ("vote", "binary", "auto", cpus), ("vote", "binary", "auto", 1),
            ("vote", "binary", "rows", 1),
            ("score", "continuous", "auto", cpus), ("score", "continuous", "auto", 1),
            ("score", "continuous", "rows", 1)):
        os.environ["CALIB_THREADS"] = str(nthreads)
        t, e = best(lambda o=outcome, d=draw: s.estimate(
            o, variance="bootstrap", replicates=a.replicates, seed=1, bootstrap_draw=d),
            a.repeat)
        path = e.attrs.get("bootstrap_draw", "")
        rows.append((f"{a.replicates} bootstrap replicates, re-raked, {what} outcome mean "
                     f"(bootstrap_draw={draw!r}, {nthreads} thread{'s' if nthreads > 1 else ''})",
                     t, f"se {e['se'].iloc[0]:.3g}; draw: {path}"))
    os.environ.pop("CALIB_THREADS", None)
    t, e = best(lambda: s.estimate("vote", by="state", variance="bootstrap",
                                   replicates=a.replicates, seed=1), a.repeat)
    rows.append((f"{a.replicates} bootstrap replicates, re-raked, binary outcome by state "
                 f"({len(e)} domains; {cpus} thread{'s' if cpus > 1 else ''})", t,
                 f"draw: {e.attrs.get('bootstrap_draw', '')}"))
    lines = [f"# Replicate weights benchmark\n\n{a.n:,} rows, variables {', '.join(VARIABLES)} "
             f"(36,720 possible cells); {platform.machine()}, {os.cpu_count()} CPUs, load "
             f"average {os.getloadavg()[0]:.1f}; best of {a.repeat}.\n",
             "| what | time (s) | x one rake | note |", "|---|---|---|---|"]
    for name, t, note in rows:
        lines.append(f"| {name} | {t:.3f} | {t / t_rake:.1f} | {note} |")
    md = "\n".join(lines) + "\n"
    Path(__file__).parent.joinpath("out").mkdir(exist_ok=True)
    Path(__file__).parent.joinpath("out", "replicates.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
