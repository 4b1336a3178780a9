"""Benchmark MRP on cells: 1M simulated personas -> cells, nutpie vs PyMC NUTS, first fit
(compile included) vs second fit (compiled model cached), centred vs non-centred, 4 vs 5 terms,
and the row-level Bernoulli formulation on 100k rows for the cell speed-up.

Run: ``nice .venv/bin/python bench/bench_mrp.py`` (prints a markdown table, writes
``bench/out/mrp.md``). ``total_s`` is the whole ``fit`` call (encode + collapse + compile +
sampling + diagnostics); ``compile_s`` and ``sample_s`` split it. The 1-minute load average
is recorded per row: other jobs share the machine. ``BENCH_QUICK=1`` for a smoke run;
``BENCH_ONLY="label1;label2"`` to run some rows.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from calib.mrp import Sampler, fit
from calib.mrp.model import clear_cache
from calib.studies import simulate

QUICK = bool(os.environ.get("BENCH_QUICK"))
ONLY = [s for s in os.environ.get("BENCH_ONLY", "").split(";") if s]
DRAWS = 200 if QUICK else 1000
CHAINS = 4
SKEW = {"age6": {"18-29": 2.0, "30-39": 1.5}, "educ5": {"Post-grad": 2.0, "4-Year College": 1.5}}


def _steps(idata) -> float:
    st = idata["sample_stats"]
    for k in ("n_steps", "tree_size"):
        if k in st:
            return float(np.asarray(st[k].values).mean())
    return float("nan")


def _row(label: str, f, wall: float) -> dict:
    d = f.diagnostics
    o = f.options
    return {"run": label, "rows": o["rows"], "cells": f.cells.n_cells, "sampler": o["sampler"],
            "centred": ",".join(k for k, v in o["centered"].items() if v) or "none",
            "total_s": round(wall, 1), "compile_s": round(o["compile_s"], 1),
            "sample_s": round(o["sample_s"], 1), "steps/draw": round(_steps(f.idata), 1),
            "max_rhat": round(float(d["r_hat"].max()), 4),
            "min_ess_bulk": int(d["ess_bulk"].min()), "min_ess_tail": int(d["ess_tail"].min()),
            "divergences": o["divergences"], "target_accept": o["target_accept"], "gate": "pass" if _passes(f) else "FAIL",
            "load1": round(os.getloadavg()[0], 1)}


def _passes(f) -> bool:
    d = f.diagnostics
    return bool(d["ok"].all()) and f.options["divergences"] == 0


def run_cells(rows: pd.DataFrame, groups: list[str], sampler: str, label: str,
              centered="auto", seed: int = 1, options: dict | None = None,
              target_accept: float | None = None) -> dict:
    t0 = time.perf_counter()
    f = fit(rows, "y", group_effects=groups, gate="warn",
            sampler=Sampler(draws=DRAWS, tune=DRAWS, chains=CHAINS, backend=sampler, seed=seed,
                            centered=centered, options=options or {},
                            target_accept=target_accept))
    r = _row(label, f, time.perf_counter() - t0)
    r["adapt"] = (options or {}).get("adaptation", "low_rank" if sampler == "nutpie" else "pymc")
    return r


def run_rows(rows: pd.DataFrame, groups: list[str]) -> dict:
    """Row-level Bernoulli with the same priors (centred ZeroSumNormal effects), nutpie."""
    import nutpie
    import pymc as pm

    from calib.mrp.diagnostics import check

    t0 = time.perf_counter()
    codes = {g: pd.factorize(rows[g].astype(str), sort=True) for g in groups}
    with pm.Model(coords={g: list(codes[g][1]) for g in groups}) as m:
        eta = pm.Normal("Intercept", 0, 2.5)
        for g in groups:
            sd = pm.HalfNormal(f"sd_{g}", 1.0)
            b = pm.ZeroSumNormal(f"b_{g}", sigma=sd, dims=g)
            eta = eta + b[codes[g][0]]
        pm.Bernoulli("y", logit_p=eta, observed=rows["y"].to_numpy())
    compiled = nutpie.compile_pymc_model(m)
    t1 = time.perf_counter()
    tr = nutpie.sample(compiled, draws=DRAWS, tune=DRAWS, chains=CHAINS, seed=1,
                       progress_bar=False, cores=2, adaptation="low_rank")
    wall = time.perf_counter() - t0
    d, div = check(tr, gate="warn")
    return {"run": "100k rows (Bernoulli)", "rows": len(rows), "cells": len(rows),
            "sampler": "nutpie", "centred": "all", "total_s": round(wall, 1),
            "compile_s": round(t1 - t0, 1), "sample_s": round(wall - (t1 - t0), 1),
            "steps/draw": round(_steps(tr), 1), "max_rhat": round(float(d["r_hat"].max()), 4),
            "min_ess_bulk": int(d["ess_bulk"].min()), "min_ess_tail": int(d["ess_tail"].min()),
            "divergences": div, "target_accept": 0.8, "gate": "pass" if bool(d["ok"].all()) and div == 0 else "FAIL",
            "load1": round(os.getloadavg()[0], 1), "adapt": "low_rank"}


def write(out: list[dict]) -> str:
    tab = pd.DataFrame(out)
    md = "\n".join(["| " + " | ".join(tab.columns) + " |",
                    "|" + "---|" * len(tab.columns)]
                   + ["| " + " | ".join(str(v) for v in r) + " |" for r in tab.values.tolist()])
    head = (f"# MRP benchmark\n\n{CHAINS} chains x {DRAWS} draws (+{DRAWS} tune), 2 chains at a "
            f"time (cores=2). Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with "
            "other jobs (load1 = 1-minute load average when the row finished). Simulated persona "
            "set from calib.studies.simulate (skewed to young and educated), seed 7.\n\n")
    md_out = head + md + "\n"
    name = os.environ.get("BENCH_OUT", "mrp.md")
    Path(__file__).parent.joinpath("out").mkdir(exist_ok=True)
    Path(__file__).parent.joinpath("out", name).write_text(md_out)
    return md_out


def main() -> None:
    pop = simulate.population()
    big, _ = simulate.sample(pop, 1_000_000, skew=SKEW, seed=7)
    small = big.iloc[:100_000]
    g4 = ["state", "age6", "race4", "educ5"]
    g5 = [*g4, "sex"]
    runs = [
        ("1M, 4 terms, first fit", lambda: run_cells(big, g4, "nutpie", "1M, 4 terms, first fit")),
        ("1M, 4 terms, second fit", lambda: run_cells(big, g4, "nutpie",
                                                      "1M, 4 terms, second fit", seed=2)),
        ("1M, 4 terms, target_accept 0.9", lambda: run_cells(
            big, g4, "nutpie", "1M, 4 terms, target_accept 0.9", seed=3, target_accept=0.9)),
        ("1M, 4 terms, diag mass matrix", lambda: run_cells(
            big, g4, "nutpie", "1M, 4 terms, diag mass matrix", options={"adaptation": "diag"})),
        ("1M, 4 terms, non-centred", lambda: run_cells(big, g4, "nutpie",
                                                       "1M, 4 terms, non-centred", False)),
        ("1M, 5 terms (+sex)", lambda: run_cells(big, g5, "nutpie", "1M, 5 terms (+sex)")),
        ("100k, 4 terms, cells", lambda: run_cells(small, g4, "nutpie", "100k, 4 terms, cells")),
        ("100k rows (Bernoulli)", lambda: run_rows(small, g4)),
        ("1M, 4 terms, PyMC NUTS", lambda: run_cells(big, g4, "pymc", "1M, 4 terms, PyMC NUTS")),
    ]
    out = []
    for label, fn in runs:
        if ONLY and label not in ONLY:
            continue
        if label.endswith("first fit"):
            clear_cache()
        r = fn()
        print(r, flush=True)
        out.append(r)
        write(out)
    print(write(out))


if __name__ == "__main__":
    main()
