"""MRP interval coverage with known truth (calib.simulate): 90% posterior intervals of the 50
state shares should cover the true state shares about 90% of the time.

Each repetition draws a fresh, skewed persona sample from the synthetic population (true model:
additive logit effects of state, age6, sex, race4, educ5 - the fitted model's form), fits MRP
(nutpie, 2 chains x 500 draws; the compiled model is reused between repetitions) and
poststratifies to the population cells. The Monte Carlo SE of the coverage is computed over
repetitions (states within a repetition share one fit, so they are not independent).
Run: ``.venv/bin/python -m pytest -q -m slow tests/test_mrp_coverage.py -s``.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from calib import mrp, simulate

SKEW = {"age6": {"18-29": 2.0}, "educ5": {"Post-grad": 2.0}}
GROUPS = ["state", "age6", "race4", "educ5", "sex"]
# fixed parametrization (state: few rows per level -> non-centred), so every repetition has
# the same model structure and reuses the compiled model
CENTRED = {"state": False, "age6": True, "race4": True, "educ5": True, "sex": True}


def coverage_study(reps: int = 20, n: int = 2500, level: float = 0.9, seed: int = 100,
                   draws: int = 500, chains: int = 2) -> dict:
    """Coverage of ``level`` intervals of state (and national) shares over ``reps`` samples."""
    pop = simulate.population()
    truth = pop.truth_state.set_index("state")["estimate"]
    nat_truth = float(pop.truth_overall["estimate"].iloc[0])
    per_rep, nat_hits, widths, gate_fail, divs = [], [], [], 0, 0
    t0 = time.perf_counter()
    for r in range(reps):
        rows, _ = simulate.sample(pop, n, skew=SKEW, seed=seed + r)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            f = mrp.fit(rows, "y", group_effects=GROUPS, draws=draws, tune=draws, chains=chains,
                        sampler="nutpie", seed=seed + r, gate="warn", centered=CENTRED)
        gate_fail += any("diagnostics gate" in str(x.message) for x in w)
        divs += f.options["divergences"]
        t = mrp.poststratify(f, pop.cells, by="state", level=level).table
        st = t[t["by"] == "state"].set_index("domain")
        tr = truth.reindex(st.index)
        hit = (st["ci_low"] <= tr) & (tr <= st["ci_high"])
        per_rep.append(hit.to_numpy())
        widths.append(float((st["ci_high"] - st["ci_low"]).mean()))
        nat = t[t["domain"] == "Total"].iloc[0]
        nat_hits.append(nat["ci_low"] <= nat_truth <= nat["ci_high"])
    cov = np.array([h.mean() for h in per_rep])
    allhits = np.concatenate(per_rep)
    return {"reps": reps, "n": n, "states": len(per_rep[0]), "intervals": len(allhits),
            "coverage": float(allhits.mean()), "mcse": float(cov.std(ddof=1) / np.sqrt(reps)),
            "mcse_independent": float(np.sqrt(allhits.mean() * (1 - allhits.mean())
                                              / len(allhits))),
            "national_coverage": float(np.mean(nat_hits)), "mean_width": float(np.mean(widths)),
            "gate_failures": int(gate_fail), "divergences": int(divs),
            "seconds": round(time.perf_counter() - t0, 1)}


@pytest.mark.slow
def test_state_intervals_cover_about_nominal():
    out = coverage_study(reps=int(os.environ.get("MRP_COVERAGE_REPS", "20")))
    print(pd.Series(out))
    assert out["states"] == 50
    # nominal 0.90 within 3 Monte Carlo SEs (plus 0.02 for the approximate posterior)
    assert abs(out["coverage"] - 0.90) < 3 * out["mcse"] + 0.02, out
