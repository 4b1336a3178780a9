"""State coverage of ``calib demo``'s methods averaged over a few repetitions, with its MCSE.

One realization's coverage (the share of the 50 state intervals that cover) is a noisy draw:
its intervals share one human sample and one rectifier, so a single run can read 0.90 or 0.70
for the same method. The demo therefore reruns its non-MRP methods on fresh simulations of the
same design (at most :data:`REPS` repetitions, the demo's own run included, and at most
:data:`BUDGET_S` seconds for the extra ones) and reports per method the coverage over all
repetitions with its Monte Carlo SE, repetitions as clusters
(:func:`calib.studies.comparison.clustered_mcse`). The MRP methods (minutes per fit) keep
their single realization (``reps`` 1, no MCSE); the full studies are in docs/validation.md.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"method": ["a"] * 4, "covered": [1, 1, 0, 1], "rep": [0, 0, 1, 1]})
>>> coverage_over_reps(t)[["method", "reps", "coverage", "coverage_mcse"]].values.tolist()
[['a', 2, 0.75, 0.25]]
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from calib.studies.comparison import clustered_mcse

#: Methods fitted once only (a PyMC fit each): their coverage is the demo run's.
MODEL_METHODS: tuple[str, ...] = ("mrp", "joint-mrp")
#: Repetitions of the other methods, the demo's own run included (the issue: at most 5).
REPS = 5
#: Seconds the extra repetitions may add to the demo (the issue: at most 20).
BUDGET_S = 20.0


def coverage_over_reps(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: ``reps``, ``intervals``, ``coverage`` (share of all intervals covering) and
    ``coverage_mcse`` (clustered by ``rep``; NaN with one repetition). ``table`` has one row
    per interval: ``method``, ``covered`` (0/1) and ``rep``."""
    rows = []
    for m, g in table.groupby("method", sort=False):
        cov = g["covered"].to_numpy(dtype=float)
        rows.append({"method": m, "reps": int(g["rep"].nunique()), "intervals": len(g),
                     "coverage": float(np.mean(cov)) if len(cov) else float("nan"),
                     "coverage_mcse": clustered_mcse(cov, g["rep"].to_numpy())})
    return pd.DataFrame(rows, columns=["method", "reps", "intervals", "coverage",
                                       "coverage_mcse"])


def _rep_config(cfg: Mapping[str, Any], r: int, methods: list[str]) -> dict:
    """The demo's configuration for repetition ``r``: seeds moved by ``r``, only ``methods``,
    no forecast or outputs, and only the persona type the study uses."""
    c = copy.deepcopy(dict(cfg))
    sim = c["personas"]["simulate"]
    sim["seed"] = int(sim.get("seed") or 0) + r
    if "persona_type" in c["personas"]:
        sim["persona_types"] = (c["personas"]["persona_type"],)
    c["analysis"]["methods"] = methods
    c["analysis"]["seed"] = int(c["analysis"].get("seed") or 0) + r
    c.pop("forecast", None)
    c.pop("outputs", None)
    return c


def repeated_coverage(
    cfg: Mapping[str, Any],
    first: pd.DataFrame,
    run: Callable[[Mapping[str, Any]], Any],
    *,
    reps: int = REPS,
    budget_s: float = BUDGET_S,
    clock: Callable[[], float] = time.perf_counter,
) -> pd.DataFrame:
    """Coverage per method over the demo's run (``first``: its comparison table) and up to
    ``reps - 1`` more simulations of the same design (non-MRP methods only; ``run`` is
    :func:`calib.studies.pipeline.run_study`). A repetition is not started when the time it
    is expected to take (the last one's) would carry the extra runs past ``budget_s``; the
    table's ``reps`` says how many ran. MRP methods get their one run."""
    methods = [m for m in cfg["analysis"]["methods"] if m not in MODEL_METHODS]
    tables = [first.assign(rep=0)]
    start, last = clock(), 0.0
    for r in range(1, reps if methods else 1):
        if clock() - start + last > budget_s:
            break
        t0 = clock()
        res = run(_rep_config(cfg, r, methods))
        tables.append(res.comparison.table.assign(rep=r))
        last = clock() - t0
    t = pd.concat(tables, ignore_index=True)
    return coverage_over_reps(t[t["covered"].notna()])


def with_coverage(summary: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    """``summary`` (one row per method) with its one-run ``coverage`` replaced by the
    repeated ``coverage``, ``coverage_mcse`` and ``coverage_reps``.

    >>> s = pd.DataFrame({"method": ["a", "b"], "coverage": [0.9, 0.5], "rmse": [1, 2]})
    >>> c = pd.DataFrame({"method": ["a"], "reps": [3], "coverage": [0.8],
    ...                   "coverage_mcse": [0.02]})
    >>> with_coverage(s, c).columns.tolist()
    ['method', 'coverage', 'coverage_mcse', 'coverage_reps', 'rmse']
    """
    c = coverage.set_index("method")
    out = summary.copy()
    pos = list(out.columns).index("coverage") if "coverage" in out.columns else len(out.columns)
    out = out.drop(columns=["coverage"], errors="ignore")
    m = out["method"]
    for i, (col, src) in enumerate((("coverage", "coverage"), ("coverage_mcse", "coverage_mcse"),
                                    ("coverage_reps", "reps"))):
        vals = m.map(c[src]) if src in c.columns else pd.Series(np.nan, index=out.index)
        if col == "coverage" and "coverage" in summary.columns:
            vals = vals.fillna(summary["coverage"])  # methods without repetitions: one run
        if col == "coverage_reps":
            vals = vals.fillna(1).astype(int)
        out.insert(pos + i, col, vals.to_numpy())
    return out


__all__ = ["repeated_coverage", "coverage_over_reps", "with_coverage", "MODEL_METHODS",
           "REPS", "BUDGET_S"]
