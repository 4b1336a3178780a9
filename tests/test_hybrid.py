"""Tests of calib.hybrid: PPI++ (vs ppi-python), stratified PPI, partisan calibration, planning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from calib import Sample
from calib.core.errors import DataError
from calib.core.targets import Targets, margin
from calib.hybrid import (
    COLUMNS,
    partisan,
    plan_human_sample,
    ppi_mean,
    ppi_proportion,
    ppi_stratified,
    recalled_vote_targets,
)  # fmt: skip
from calib.studies.election_study import election_study


def census_weights(personas: pd.DataFrame, frame: pd.DataFrame) -> np.ndarray:
    """Rake personas to the frame's state, age6, educ5, race4 and sex margins (CVAP)."""
    ms = []
    for v in ("state", "age6", "educ5", "race4", "sex"):
        tot = frame.groupby(v, observed=True)["n"].sum()
        ms.append(margin(v, {k: float(x) for k, x in tot.items()}))
    return Sample(personas).rake(Targets(tuple(ms))).weight_array


def _binary(rng, n, big_n, acc=0.8, p=0.4, p_unl=0.45):
    y = (rng.random(n) < p).astype(float)
    yhat = np.where(rng.random(n) < acc, y, 1 - y)
    f = (rng.random(big_n) < p_unl).astype(float)
    return y, yhat, f


def test_matches_ppi_python_unweighted():
    ppi_py = pytest.importorskip("ppi_py")
    rng = np.random.default_rng(11)
    for n, big_n in ((150, 3000), (400, 20000)):
        y, yhat, f = _binary(rng, n, big_n)
        est = ppi_mean(pd.DataFrame({"llm": f}), pd.DataFrame({"y": y, "llm": yhat}),
                       "llm", "y", level=0.9).iloc[0]
        pe = float(np.ravel(ppi_py.ppi_mean_pointestimate(y, yhat, f, lam=None))[0])
        lo, hi = (float(np.ravel(x)[0]) for x in ppi_py.ppi_mean_ci(y, yhat, f, alpha=0.1,
                                                                    lam=None))
        assert est["estimate"] == pytest.approx(pe, abs=1e-8)
        assert est["ci_low"] == pytest.approx(lo, abs=1e-8)
        assert est["ci_high"] == pytest.approx(hi, abs=1e-8)
        # fixed lam = 1 (plain PPI) too
        e1 = ppi_mean(pd.DataFrame({"llm": f}), pd.DataFrame({"y": y, "llm": yhat}),
                      "llm", "y", lam=1.0, level=0.9).iloc[0]
        lo1, hi1 = (float(np.ravel(x)[0]) for x in ppi_py.ppi_mean_ci(y, yhat, f, alpha=0.1,
                                                                      lam=1.0))
        assert (e1["ci_low"], e1["ci_high"]) == pytest.approx((lo1, hi1), abs=1e-8)


def test_columns_and_human_only_limit():
    rng = np.random.default_rng(3)
    y, yhat, f = _binary(rng, 200, 2000)
    w = rng.uniform(0.5, 2.0, 200)
    h = pd.DataFrame({"y": y, "llm": yhat, "w": w})
    t = ppi_mean(pd.DataFrame({"llm": f}), h, "llm", "y", human_weight="w", lam=0.0)
    assert list(t.columns) == list(COLUMNS)
    # lam = 0: the weighted (Hajek) human mean, linearized se (independent formula)
    m = np.sum(w * y) / w.sum()
    se = np.sqrt(np.sum(w**2 * (y - m) ** 2)) / w.sum()
    assert t["estimate"].iloc[0] == pytest.approx(m, abs=1e-12)
    assert t["se"].iloc[0] == pytest.approx(se, rel=1e-10)
    assert t["n_effective_human"].iloc[0] == pytest.approx(200.0)


def test_effective_sample_size_exceeds_humans_when_correlated():
    rng = np.random.default_rng(5)
    y, yhat, f = _binary(rng, 300, 50000, acc=0.9)
    t = ppi_mean(pd.DataFrame({"llm": f}), pd.DataFrame({"y": y, "llm": yhat}), "llm", "y")
    assert t["n_effective_human"].iloc[0] > 1.5 * 300
    assert 0.3 < t["lambda"].iloc[0] <= 1.0
    # unrelated predictions: lambda near 0, no gain
    t0 = ppi_mean(pd.DataFrame({"llm": f}),
                  pd.DataFrame({"y": y, "llm": (rng.random(300) < 0.5).astype(float)}),
                  "llm", "y")
    assert t0["n_effective_human"].iloc[0] < 1.05 * 300


def test_stratified_one_stratum_equals_unstratified():
    rng = np.random.default_rng(8)
    y, yhat, f = _binary(rng, 250, 4000)
    h = pd.DataFrame({"y": y, "llm": yhat, "w": rng.uniform(1, 3, 250), "s": "all"})
    p = pd.DataFrame({"llm": f, "w": rng.uniform(1, 2, 4000), "s": "all"})
    a = ppi_mean(p, h, "llm", "y", persona_weight="w", human_weight="w").iloc[0]
    b = ppi_stratified(p, h, "llm", "y", "s", persona_weight="w", human_weight="w").iloc[-1]
    for col in ("estimate", "se", "ci_low", "ci_high", "n_effective_human", "lambda"):
        assert b[col] == pytest.approx(a[col], rel=1e-12), col


def test_stratified_combines_with_population_shares():
    rng = np.random.default_rng(9)
    # humans over-sample stratum b 4:1; population is 50/50; truth 0.5*0.2 + 0.5*0.7 = 0.45
    s = np.array(["a"] * 100 + ["b"] * 400)
    y = (rng.random(500) < np.where(s == "a", 0.2, 0.7)).astype(float)
    h = pd.DataFrame({"s": s, "y": y, "llm": np.where(rng.random(500) < 0.85, y, 1 - y)})
    ps = rng.choice(["a", "b"], 20000)
    p = pd.DataFrame({"s": ps, "llm": (rng.random(20000) < np.where(ps == "a", 0.3, 0.7))
                      .astype(float)})
    t = ppi_stratified(p, h, "llm", "y", "s", shares={"a": 1.0, "b": 1.0})
    tot, ra, rb = t.iloc[-1], t.iloc[0], t.iloc[1]
    assert tot["estimate"] == pytest.approx(0.5 * ra["estimate"] + 0.5 * rb["estimate"])
    assert tot["se"] == pytest.approx(np.sqrt(0.25 * ra["se"] ** 2 + 0.25 * rb["se"] ** 2))
    assert tot["ci_low"] < 0.45 < tot["ci_high"]
    with pytest.raises(Exception, match="no population share"):
        ppi_stratified(p, h, "llm", "y", "s", shares={"a": 1.0})


def test_ppi_fixes_severe_response_bias_on_election_study():
    st = election_study(2024, per_state=60, human_n=1500, seed=21)
    p = st.personas[st.personas["persona_type"] == "descriptive"].reset_index(drop=True)
    w = census_weights(p, st.frame)
    truth = st.truth_national
    raw = p["vote_dem"].mean()
    weighted = np.sum(w * p["vote_dem"]) / w.sum()
    # the human answer is vote_dem, the LLM's answer for each human is llm_vote_dem
    h = st.human.rename(columns={"vote_dem": "real", "llm_vote_dem": "vote_dem"})
    t = ppi_mean(Sample(p, weight=w), h, "vote_dem", "real", human_weight="weight").iloc[0]
    assert t["ci_low"] <= truth <= t["ci_high"]
    assert abs(raw - truth) > 0.25 and abs(weighted - truth) > 0.25  # descriptive-level bias
    assert abs(t["estimate"] - truth) < 0.2 * abs(weighted - truth)
    # cell-mean predictions work too
    tc = ppi_mean(Sample(p, weight=w), h, "vote_dem", "real", human_weight="weight",
                  prediction="cell", cells=["race4", "educ5"]).iloc[0]
    assert tc["ci_low"] <= truth <= tc["ci_high"]


def test_proportion_levels_and_errors():
    h = pd.DataFrame({"y": ["a", "b", "c", "a"], "llm": ["a", "a", "c", "b"]})
    p = pd.DataFrame({"llm": ["a", "b", "c", "a", "b", "a"]})
    t = ppi_proportion(p, h, "llm", "y", lam=0.0)
    assert t["level"].tolist() == ["a", "b", "c"]
    assert t["estimate"].tolist() == pytest.approx([0.5, 0.25, 0.25])
    bad = p.assign(llm=["a", "b", "z", "a", "b", "a"])
    with pytest.raises(DataError, match="outside the levels"):
        ppi_proportion(bad, h, "llm", "y")
    with pytest.raises(DataError, match="'nope'"):
        ppi_mean(pd.DataFrame({"x": [1, 0]}), pd.DataFrame({"y": [1, 0], "x": [1, 0]}), "x",
                 "nope")
    with pytest.raises(DataError, match="missing or non-numeric"):
        ppi_mean(pd.DataFrame({"x": [1.0, np.nan]}), pd.DataFrame({"y": [1, 0], "x": [1, 0]}),
                 "x", "y")


def test_partisan_hits_political_margins():
    rng = np.random.default_rng(4)
    n = 4000
    df = pd.DataFrame({
        "sex": rng.choice(["Female", "Male"], n, p=[0.6, 0.4]),
        "vote2020": rng.choice(["Democrat", "Republican", "Other", "Did not vote"], n,
                               p=[0.55, 0.2, 0.05, 0.2]),
        "pid3": rng.choice(["Democrat", "Independent", "Republican"], n, p=[0.5, 0.3, 0.2]),
    })  # fmt: skip
    demo = Targets((margin("sex", {"Female": 0.51, "Male": 0.49}, scale="share"),))
    pol = recalled_vote_targets(2020) + Targets((margin(
        "pid3", {"Democrat": 0.33, "Independent": 0.35, "Republican": 0.32}, scale="share"),))
    s = partisan(df, demo, pol)
    w = s.weights / s.weights.sum()
    vt = pol["vote2020"]
    got = w.groupby(df["vote2020"]).sum()
    for (lv,), val in zip(vt.levels, vt.values, strict=True):
        assert got[lv] == pytest.approx(val, abs=1e-8)
    assert w.groupby(df["pid3"]).sum()["Republican"] == pytest.approx(0.32, abs=1e-8)
    assert w.groupby(df["sex"]).sum()["Female"] == pytest.approx(0.51, abs=1e-8)
    # the certified 2020 turnout of the frame's universe (50 states): 158.2M of 228.4M CVAP
    assert 1 - vt.values[-1] == pytest.approx(158.16e6 / 228.44e6, abs=2e-3)
    with pytest.raises(DataError, match="lack political variables"):
        partisan(df.drop(columns="pid3"), demo, pol)


def _population_draw(rng, n, big_n):
    y = (rng.random(n) < 0.45).astype(float)
    yhat = np.where(rng.random(n) < 0.85, y, 1 - y)
    f = (rng.random(big_n) < 0.47).astype(float)
    return pd.DataFrame({"llm": f}), pd.DataFrame({"y": y, "llm": yhat})


def test_planning_gives_target_width():
    rng = np.random.default_rng(12)
    p, h = _population_draw(rng, 2000, 30000)  # a pilot large enough to pin the variances
    plan = plan_human_sample(p, h, 0.04, outcome="llm", human_outcome="y")
    n = int(plan["n_human"].iloc[-1])
    assert 200 < n < 3000
    widths = []
    for _ in range(20):
        p2, h2 = _population_draw(rng, n, 30000)
        t = ppi_mean(p2, h2, "llm", "y").iloc[0]
        widths.append(t["ci_high"] - t["ci_low"])
    assert np.mean(widths) == pytest.approx(0.04, rel=0.06)
    # stratified: allocation sums, width met
    rng2 = np.random.default_rng(13)
    h["s"] = rng2.choice(["a", "b"], 2000)
    p["s"] = rng2.choice(["a", "b"], 30000)
    ps = plan_human_sample(p, h, 0.04, strata="s", outcome="llm", human_outcome="y")
    assert ps["n_human"].iloc[-1] == ps["n_human"].iloc[:-1].sum()
    assert ps["width"].iloc[-1] <= 0.04
    z = norm.ppf(0.975)
    assert ps["width"].iloc[-1] == pytest.approx(2 * z * ps["se"].iloc[-1])


def test_human_design_variance_matches_r_svymean():
    """A human Sample with strata and clusters: the human arm's variance is R svymean's on the
    rectifier y - lam * yhat (design weights, ids=~psu, strata=~st, nest=TRUE), overall and by
    domain (svyby)."""
    from rsurvey import run_r

    rng = np.random.default_rng(3)
    n = 240
    h = pd.DataFrame({"st": np.repeat(["a", "b", "c"], 80),
                      "psu": np.tile(np.repeat(np.arange(8), 10), 3),
                      "dom": rng.choice(["x", "y"], n),
                      "v": rng.uniform(0.5, 3.0, n)})
    u = np.repeat(rng.normal(0, 0.8, 24), 10)  # a cluster effect: the design matters
    h["y"] = (rng.random(n) < 1 / (1 + np.exp(-(u - 0.2)))).astype(float)
    h["llm"] = np.where(rng.random(n) < 0.8, h["y"], 1 - h["y"])
    lam = 0.6
    h["r"] = h["y"] - lam * h["llm"]
    p = pd.DataFrame({"llm": rng.integers(0, 2, 200_000).astype(float),
                      "dom": rng.choice(["x", "y"], 200_000)})
    hs = Sample(h, weight="v", strata="st", cluster="psu")
    est = ppi_mean(p, hs, "llm", "y", lam=lam, by="dom").set_index("domain")
    r = run_r("""
h <- read.csv("h.csv")
d <- svydesign(ids=~psu, strata=~st, weights=~v, data=h, nest=TRUE)
m <- svymean(~r, d); b <- svyby(~r, ~dom, d, svymean)
write.csv(data.frame(domain=c("Total", as.character(b$dom)), se=c(SE(m), SE(b))),
  "out_se.csv", row.names=FALSE)
""", {"h": h})["se"].set_index("domain")["se"]
    for dom in ("Total", "x", "y"):
        pm = np.ones(len(p), bool) if dom == "Total" else (p["dom"] == dom).to_numpy()
        f = p.loc[pm, "llm"].to_numpy()
        vp = np.var(f) / f.size  # the persona arm (unweighted, ppi_py scale)
        human_var = est.at[dom, "se"] ** 2 - lam**2 * vp
        assert np.sqrt(human_var) == pytest.approx(r[dom], rel=1e-9)
    flat = ppi_mean(p, h, "llm", "y", lam=lam, human_weight="v").iloc[-1]
    assert est.at["Total", "se"] > 1.1 * flat["se"]  # the clusters widen the interval
