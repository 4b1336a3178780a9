"""Benchmark MRP on cells: 1M simulated personas -> cells, PyMC NUTS vs nutpie, centred vs
non-centred, and the row-level Bernoulli formulation on 100k rows.

Run: ``nice .venv/bin/python bench/bench_mrp.py`` (prints a markdown table, writes
``bench/out/mrp.md``). Timings include model compilation. Set ``BENCH_QUICK=1`` for a smoke run.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import pandas as pd

from calib import simulate
from calib.mrp import fit

QUICK = bool(os.environ.get("BENCH_QUICK"))
DRAWS = 200 if QUICK else 1000
CHAINS = 4
SKEW = {"age6": {"18-29": 2.0, "30-39": 1.5}, "educ5": {"Post-grad": 2.0, "4-Year College": 1.5}}


def _row(label: str, f, wall: float) -> dict:
    d = f.diagnostics
    return {"run": label, "rows": f.options["rows"], "cells": f.cells.n_cells,
            "sampler": f.options["sampler"],
            "centred": ",".join(k for k, v in f.options["centered"].items() if v) or "none",
            "wall_s": round(wall, 1), "max_rhat": round(float(d["r_hat"].max()), 4),
            "min_ess_bulk": int(d["ess_bulk"].min()), "min_ess_tail": int(d["ess_tail"].min()),
            "divergences": f.options["divergences"]}


def run_cells(rows: pd.DataFrame, groups: list[str], sampler: str, label: str,
              centered="auto") -> dict:
    t0 = time.perf_counter()
    f = fit(rows, "y", group_effects=groups, draws=DRAWS, tune=DRAWS, chains=CHAINS,
            sampler=sampler, seed=1, gate="warn", centered=centered)
    return _row(label, f, time.perf_counter() - t0)


def run_rows(rows: pd.DataFrame, groups: list[str]) -> dict:
    """Row-level Bernoulli with the same priors (nutpie), for the cell speed-up."""
    import nutpie
    import pymc as pm

    from calib.mrp.diagnostics import diagnostics_table, divergences

    t0 = time.perf_counter()
    codes = {g: pd.factorize(rows[g].astype(str), sort=True) for g in groups}
    with pm.Model(coords={g: list(codes[g][1]) for g in groups}) as m:
        eta = pm.Normal("Intercept", 0, 2.5)
        for g in groups:
            sd = pm.HalfNormal(f"sd_{g}", 1.0)
            b = pm.ZeroSumNormal(f"b_{g}", sigma=sd, dims=g)
            eta = eta + b[codes[g][0]]
        pm.Bernoulli("y", logit_p=eta, observed=rows["y"].to_numpy())
    tr = nutpie.sample(nutpie.compile_pymc_model(m), draws=DRAWS, tune=DRAWS, chains=CHAINS,
                       seed=1, progress_bar=False, cores=2)
    wall = time.perf_counter() - t0
    d = diagnostics_table(tr)
    return {"run": "rows (Bernoulli)", "rows": len(rows), "cells": len(rows), "sampler": "nutpie",
            "centred": "all", "wall_s": round(wall, 1), "max_rhat": round(float(d["r_hat"].max()), 4),
            "min_ess_bulk": int(d["ess_bulk"].min()), "min_ess_tail": int(d["ess_tail"].min()),
            "divergences": divergences(tr)}


def main() -> None:
    pop = simulate.population()
    big, _ = simulate.sample(pop, 1_000_000, skew=SKEW, seed=7)
    small = big.iloc[:100_000]
    g4 = ["state", "age6", "race4", "educ5"]
    g5 = [*g4, "sex"]
    out = []
    for _label, fn in [
        ("1M, 4 terms", lambda: run_cells(big, g4, "nutpie", "1M, 4 terms")),
        ("1M, 4 terms", lambda: run_cells(big, g4, "pymc", "1M, 4 terms")),
        ("1M, 4 terms, non-centred", lambda: run_cells(big, g4, "nutpie",
                                                       "1M, 4 terms, non-centred", False)),
        ("1M, 5 terms (+sex)", lambda: run_cells(big, g5, "nutpie", "1M, 5 terms (+sex)")),
        ("1M, 5 terms (+sex)", lambda: run_cells(big, g5, "pymc", "1M, 5 terms (+sex)")),
        ("100k, 4 terms cells", lambda: run_cells(small, g4, "nutpie", "100k, 4 terms, cells")),
        ("100k rows", lambda: run_rows(small, g4)),
    ]:
        r = fn()
        print(r, flush=True)
        out.append(r)
    tab = pd.DataFrame(out)
    md = "\n".join(["| " + " | ".join(tab.columns) + " |",
                    "|" + "---|" * len(tab.columns)]
                   + ["| " + " | ".join(str(v) for v in r) + " |" for r in tab.values.tolist()])
    head = (f"# MRP benchmark\n\n{CHAINS} chains x {DRAWS} draws (+{DRAWS} tune), wall time "
            f"includes compilation. Machine: {platform.machine()}, {os.cpu_count()} cores shared "
            "with other jobs (timings inflated). Simulated persona set from "
            "calib.simulate (skewed to young and educated).\n\n")
    md_out = head + md + "\n"
    print(md_out)
    Path(__file__).parent.joinpath("out").mkdir(exist_ok=True)
    Path(__file__).parent.joinpath("out", "mrp.md").write_text(md_out)


if __name__ == "__main__":
    main()
