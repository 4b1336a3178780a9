"""MRP interval coverage with known truth (calib.studies.simulate): 90% posterior intervals of the 50
state shares should cover the true state shares about 90% of the time.

Each repetition draws a fresh, skewed persona sample of 2,500 from the synthetic population
(true model: additive logit effects of state, age6, sex, race4, educ5, the state effects being
``4 (repvote - mean) + N(0, 0.3^2)``: a state-level predictor plus an exchangeable residual),
fits MRP with the same terms and ``repvote`` as the domain predictor (nutpie, 4 chains x 500
draws; the compiled model is reused between repetitions) and poststratifies to the population
cells. ``coverage_study(predictor=False)`` drops the predictor: the state effects are then
shrunk toward the mean and small extreme states under-cover (recorded in docs/validation.md). The Monte Carlo SE of the coverage is computed over
repetitions (states within a repetition share one fit, so they are not independent).
Run: ``MRP_COVERAGE_REPS=50 .venv/bin/python -m pytest -q -m slow tests/test_mrp_coverage.py -s``.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from calib import mrp
from calib.studies import simulate

SKEW = {"age6": {"18-29": 2.0}, "educ5": {"Post-grad": 2.0}}
#: residual sd of the true state effects around the repvote slope (the exchangeable part)
STATE_SD = 0.3


def population():
    """The synthetic population with state effects ``4 (repvote - mean) + N(0, 0.3^2)``
    (seeded): a state-level predictor explains most of the state variation, and the rest is
    an exchangeable draw, as the hierarchical model assumes."""
    from calib.data.datasets import state_predictors

    p = state_predictors()
    rv = p["repvote"].to_numpy()
    eff = 4.0 * (rv - rv.mean()) + np.random.default_rng(2024).normal(0, STATE_SD, rv.size)
    coef = {**simulate.BINARY_COEFFICIENTS,
            "state": dict(zip(p["state"].astype(str), eff.tolist(), strict=True))}
    return simulate.population(coefficients=coef)
GROUPS = ["state", "age6", "race4", "educ5", "sex"]
# fixed parametrization (state: few rows per level -> non-centred), so every repetition has
# the same model structure and reuses the compiled model
CENTRED = {"state": False, "age6": True, "race4": True, "educ5": True, "sex": True}


def coverage_study(reps: int = 50, n: int = 2500, level: float = 0.9, seed: int = 100,
                   draws: int = 500, chains: int = 4, predictor: bool = True) -> dict:
    """Coverage of ``level`` intervals of state (and national) shares over ``reps`` samples.

    ``predictor``: the state-level predictor of the true model (the 2016 Republican share,
    ``repvote``) enters as a domain predictor (the correctly specified model); without it the
    state effects are shrunk toward the mean, and small extreme states under-cover.
    """
    from calib.data.datasets import state_predictors

    dp = state_predictors()[["state", "repvote"]] if predictor else None
    pop = population()
    truth = pop.truth_state.set_index("state")["estimate"]
    nat_truth = float(pop.truth_overall["estimate"].iloc[0])
    per_rep, nat_hits, widths, gate_fail, divs = [], [], [], 0, 0
    t0 = time.perf_counter()
    for r in range(reps):
        rows, _ = simulate.sample(pop, n, skew=SKEW, seed=seed + r)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            f = mrp.fit(rows, "y", group_effects=GROUPS, domain_predictors=dp, gate="warn",
                        sampler=mrp.Sampler(draws=draws, tune=draws, chains=chains,
                                            backend="nutpie", seed=seed + r, centered=CENTRED))
        gate_fail += any("diagnostics gate" in str(x.message) for x in w)
        divs += f.options["divergences"]
        t = mrp.poststratify(f, pop.cells, by="state", level=level).table
        st = t[t["by"] == "state"].set_index("domain")
        tr = truth.reindex(st.index)
        hit = (st["ci_low"] <= tr) & (tr <= st["ci_high"])
        per_rep.append(hit)
        widths.append(float((st["ci_high"] - st["ci_low"]).mean()))
        nat = t[t["domain"] == "Total"].iloc[0]
        nat_hits.append(nat["ci_low"] <= nat_truth <= nat["ci_high"])
    by_state = pd.DataFrame(per_rep).mean().sort_values()
    cov = np.array([h.mean() for h in per_rep])
    allhits = np.concatenate(per_rep)
    return {"reps": reps, "n": n, "states": len(per_rep[0]), "intervals": len(allhits),
            "coverage": float(allhits.mean()), "mcse": float(cov.std(ddof=1) / np.sqrt(reps)),
            "mcse_independent": float(np.sqrt(allhits.mean() * (1 - allhits.mean())
                                              / len(allhits))),
            "national_coverage": float(np.mean(nat_hits)), "mean_width": float(np.mean(widths)),
            "gate_failures": int(gate_fail), "divergences": int(divs),
            "worst_states": by_state.head(6).round(2).to_dict(),
            "seconds": round(time.perf_counter() - t0, 1)}


@pytest.mark.slow
def test_state_intervals_cover_about_nominal():
    """The correctly specified model (state effects = repvote slope + exchangeable residual):
    90% state intervals cover 90% within 3 Monte Carlo SEs."""
    out = coverage_study(reps=int(os.environ.get("MRP_COVERAGE_REPS", "50")))
    print(pd.Series(out))
    assert out["states"] == 50
    assert abs(out["coverage"] - 0.90) < 3 * out["mcse"], out
