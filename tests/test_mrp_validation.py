"""MRP on real data: CCES 2018 recalled 2016 vote -> Trump two-party share by state, against the
certified 2016 results, beside the raw and the raked sample. All three share one known bias: the
frame is citizens 18+ (CVAP), not voters, and the sample is respondents who recall voting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calib import mrp
from calib.core.sample import Sample
from calib.data.datasets import (
    cces2018,
    census_targets,
    election_results,
    poststrat_frame,
    state_predictors,
)


def _metrics(est: pd.Series, truth: pd.Series) -> tuple[float, float, int]:
    both = pd.concat([est, truth], axis=1, join="inner").dropna()
    err = both.iloc[:, 0] - both.iloc[:, 1]
    return float(np.sqrt((err**2).mean())), float(both.corr().iloc[0, 1]), len(both)


def cces_validation(draws: int = 1000, chains: int = 4, *, sex_fixed: bool = False
                    ) -> pd.DataFrame:
    """The table of docs/validation.md; ``sex_fixed`` fits the two-level sex as a fixed effect
    (what ``calib mrp`` does by default with a two-level group) instead of a varying
    intercept."""
    c = cces2018()
    c = c[c["vote2016"].isin(["Republican", "Democrat"]) & (c["state"].astype(str) != "DC")]
    c = c.assign(trump=(c["vote2016"] == "Republican").astype(int),
                 state=c["state"].astype(str))
    frame = poststrat_frame().assign(state=lambda f: f["state"].astype(str))
    res = election_results(2016).set_index("state_po")
    truth = 1 - res["dem_two_party_share"]
    pred = state_predictors()[["state", "region"]].assign(state=lambda p: p["state"].astype(str))
    groups = ["state", "age6", "race4", "educ5"] if sex_fixed else [
        "state", "age6", "race4", "sex", "educ5"]
    f = mrp.fit(c, "trump", group_effects=groups, fixed_effects=["sex"] if sex_fixed else (),
                domain_predictors=pred, gate="warn",
                sampler=mrp.Sampler(draws=draws, tune=draws, chains=chains, backend="nutpie",
                                    seed=2016))
    est = mrp.poststratify(f, frame, by="state").table
    mrp_s = est[est["by"] == "state"].set_index("domain")["estimate"]
    raw = c.groupby("state")["trump"].mean()
    t = census_targets(["age6", "race4", "sex", "educ5"])
    raked = Sample(c, weight="weight").rake(t)
    w = raked.weights.to_numpy()
    rk = pd.Series(w * c["trump"].to_numpy()).groupby(c["state"].to_numpy()).sum() / pd.Series(
        w).groupby(c["state"].to_numpy()).sum()
    rows = []
    label = "MRP (region, sex fixed)" if sex_fixed else "MRP (region)"
    for name, s in [("raw sample", raw), ("raked sample", rk), (label, mrp_s)]:
        rmse, corr, n = _metrics(s, truth)
        rows.append({"method": name, "rmse": rmse, "corr": corr, "states": n})
    out = pd.DataFrame(rows)
    out.attrs["respondents"] = len(c)
    out.attrs["max_rhat"] = float(f.diagnostics["r_hat"].max())
    out.attrs["divergences"] = f.options["divergences"]
    return out


@pytest.mark.slow
def test_cces_2016_trump_share_by_state():
    out = cces_validation().set_index("method")
    print(out, out.attrs)
    assert out.loc["MRP (region)", "states"] == 50
    assert out.loc["MRP (region)", "rmse"] < out.loc["raw sample", "rmse"]
    assert out.loc["MRP (region)", "rmse"] < out.loc["raked sample", "rmse"]
    # measured 2026-11: MRP RMSE 0.116 / corr 0.36; raw 0.199 / 0.17; raked 0.217 / 0.33
    assert out.loc["MRP (region)", "rmse"] < 0.14


@pytest.mark.slow
def test_cces_2016_with_sex_as_a_fixed_effect():
    """The CLI's default for a two-level group (a fixed effect), through the Python API."""
    out = cces_validation(sex_fixed=True).set_index("method")
    print(out, out.attrs)
    row = out.loc["MRP (region, sex fixed)"]
    assert row["states"] == 50
    assert row["rmse"] < out.loc["raw sample", "rmse"] and row["rmse"] < 0.14
