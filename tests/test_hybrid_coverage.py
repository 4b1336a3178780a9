"""Coverage study of PPI++ (slow): repeated persona + human samples from the election-study truth.

Run: ``.venv/bin/python -m pytest -q -m slow tests/test_hybrid_coverage.py -s``. Figures are in
docs/validation.md ("Hybrid").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from calib.hybrid import ppi_mean
from calib.studies.election_study import (
    DEFAULT_SKEW,
    HUMAN_NONRESPONSE,
    RESPONSE_SHIFT,
    election_study,
)

VARS = ("age6", "educ5", "race4", "sex")


def _mult(frame: pd.DataFrame, skew: dict) -> np.ndarray:
    m = np.ones(len(frame))
    for v, d in skew.items():
        m *= frame[v].astype(str).map(lambda x, d=d: d.get(x, 1.0)).to_numpy(dtype=float)
    return m


def one_rep(frame, rng, shift, n_persona=5000, n_human=800, level=(0.9, 0.95)):
    n = frame["n"].to_numpy(dtype=float)
    eta = frame["eta_dem"].to_numpy()
    pp = _mult(frame, DEFAULT_SKEW) * n
    pi = rng.choice(len(frame), n_persona, p=pp / pp.sum())
    resp = _mult(frame, HUMAN_NONRESPONSE)
    hp = n * resp
    hi = rng.choice(len(frame), n_human, p=hp / hp.sum())
    f = (rng.random(n_persona) < expit(eta[pi] + shift)).astype(float)
    y = (rng.random(n_human) < expit(eta[hi])).astype(float)
    yhat = (rng.random(n_human) < expit(eta[hi] + shift)).astype(float)
    # persona weights: poststratify on the age6 x educ5 x race4 x sex cells (known inclusion)
    wp = 1.0 / _mult(frame, DEFAULT_SKEW)[pi]
    wh = 1.0 / resp[hi]
    p = pd.DataFrame({"llm": f})
    h = pd.DataFrame({"y": y, "llm": yhat})
    out = {}
    for lv in level:
        t = ppi_mean(p, h, "llm", "y", persona_weight=wp, human_weight=wh, level=lv).iloc[0]
        out[lv] = (t["ci_low"], t["ci_high"])
    return out, t["estimate"], f.mean(), np.sum(wp * f) / wp.sum(), t["n_effective_human"]


def study(shift: float, reps: int, seed: int = 0) -> dict:
    st = election_study(2024, per_state=5, human_n=0, seed=seed)
    frame, truth = st.frame, st.truth_national
    rng = np.random.default_rng(seed)
    cov = {0.9: 0, 0.95: 0}
    err = {"ppi": [], "raw": [], "weighted": []}
    neff = []
    for _ in range(reps):
        ci, est, raw, wtd, ne = one_rep(frame, rng, shift)
        for lv, (lo, hi) in ci.items():
            cov[lv] += lo <= truth <= hi
        err["ppi"].append(est - truth)
        err["raw"].append(raw - truth)
        err["weighted"].append(wtd - truth)
        neff.append(ne)
    rmse = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in err.items()}
    return {"coverage": {k: v / reps for k, v in cov.items()}, "rmse": rmse,
            "n_eff_mean": float(np.mean(neff)), "reps": reps}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["meta", "objective", "descriptive"])
def test_ppi_coverage(kind):
    reps = 1000
    res = study(RESPONSE_SHIFT[kind], reps, seed=7)
    print(kind, res)
    for lv, c in res["coverage"].items():
        mcse = np.sqrt(lv * (1 - lv) / reps)
        assert abs(c - lv) <= 3 * mcse, (kind, lv, c)
    assert res["rmse"]["ppi"] < res["rmse"]["raw"]
    if kind == "descriptive":
        assert res["rmse"]["ppi"] < 0.2 * res["rmse"]["weighted"]
