"""calib.mrp: recovery of known cell probabilities, the gate, poststratify, categorical family,
persona-type effects, frame extension and update. Small fits (nutpie, 2 chains)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from calib import mrp
from calib.core.errors import DataError, DiagnosticsError
from calib.data.datasets import census_targets, poststrat_frame
from calib.mrp.poststrat import linear_predictor
from calib.studies import simulate

STATES = ["AL", "CA", "NY", "TX", "WY"]
LOOSE = {"max_rhat": 1.05, "min_ess_bulk": 100, "min_ess_tail": 100}
SAMPLER = mrp.Sampler(draws=300, tune=300, chains=2, backend="nutpie", seed=3)
SMALL = dict(sampler=SAMPLER, gate=mrp.Gate(**LOOSE))
CENTRED = dict(sampler=replace(SAMPLER, centered=True), gate=mrp.Gate(**LOOSE))


@pytest.fixture(scope="module")
def world():
    frame = poststrat_frame()
    frame = frame[frame["state"].isin(STATES)].reset_index(drop=True)
    frame["state"] = frame["state"].astype(str)
    pop = simulate.population(frame=frame)
    rows, _ = simulate.sample(pop, 6000, skew={"age6": {"18-29": 3.0}}, seed=11)
    f = mrp.fit(rows, "y", group_effects=["state", "age6", "race4", "educ5", "sex"], **CENTRED)
    return pop, rows, f


def test_recovers_known_cell_probabilities(world):
    pop, _, f = world
    cells = pop.cells
    p_hat = 1 / (1 + np.exp(-linear_predictor(f, cells))).mean(axis=0)
    n = cells["n"].to_numpy(float)
    rmse = float(np.sqrt(np.average((p_hat - cells["p"]) ** 2, weights=n)))
    assert rmse < 0.03
    est = mrp.poststratify(f, cells, by="state")
    truth = pop.truth_state.set_index("state")["estimate"]
    t = est.table[est.table["by"] == "state"].set_index("domain")
    z = (t["estimate"] - truth.reindex(t.index)) / t["se"]
    assert (z.abs() < 4).all(), z
    assert (t["estimate"] - truth.reindex(t.index)).abs().max() < 0.04


def test_poststratify_columns_draws_and_unseen_level(world):
    pop, _, f = world
    frame = pop.cells.copy()
    extra = frame[frame["state"] == "WY"].assign(state="VT")  # VT: not in the data
    frame = pd.concat([frame, extra], ignore_index=True)
    est = mrp.poststratify(f, frame, by="state", level=0.9)
    cols = ["outcome", "level", "by", "domain", "estimate", "se", "ci_low", "ci_high", "n",
            "n_sample", "q05", "q50", "q95"]
    assert list(est.table.columns) == cols
    tab = est.table.set_index("domain")
    assert tab.loc["VT", "n_sample"] == 0 and tab.loc["WY", "n_sample"] > 0
    assert tab.loc["VT", "se"] > 2 * tab.loc["WY", "se"]  # prior-predictive state effect
    assert tab.loc["Total", "n"] == pytest.approx(frame["n"].sum())
    assert (est.table["ci_low"] <= est.table["estimate"]).all()
    d = est.draws
    assert set(d.columns) >= {"domain", "draw", "estimate"}
    assert d["draw"].nunique() == 600
    m = d[d["domain"] == "CA"]["estimate"].mean()
    assert m == pytest.approx(tab.loc["CA", "estimate"], rel=1e-12)
    with pytest.raises(DataError, match="educ5"):
        mrp.poststratify(f, frame.drop(columns="educ5"))
    with pytest.raises(DataError, match="count"):
        mrp.poststratify(f, frame, count="pop")


def test_summary_and_effects(world):
    _, _, f = world
    s = f.summary()
    assert {"mean", "sd", "ci_low", "ci_high", "r_hat", "ess_bulk"} <= set(s.columns)
    e = f.effects("race4")
    # simulate: Black -1.8, White +0.55 on the logit scale
    assert e.set_index("level").loc["Black", "ci_high"] < 0 < e.set_index("level").loc[
        "White", "ci_low"]


def test_gate_raises_on_a_bad_fit_naming_parameters():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"g": rng.choice(list("abcdef"), 300), "h": rng.choice(list("xyz"), 300)})
    df["y"] = rng.integers(0, 2, 300)
    with pytest.raises(DiagnosticsError) as err:
        mrp.fit(df, "y", group_effects=["g", "h"],
                sampler=mrp.Sampler(draws=20, tune=20, chains=2, seed=1, backend="pymc",
                                    centered=False))
    msg = str(err.value)
    assert "ESS" in msg and ("sd_g" in msg or "z_g" in msg or "Intercept" in msg)
    assert err.value.exit_code == 3


@pytest.mark.slow  # ~40 s on a shared 2-core machine (compiling the softmax model)
def test_categorical_family():
    frame = poststrat_frame()
    frame = frame[frame["state"].isin(["CA", "TX"])].reset_index(drop=True)
    pop = simulate.population(frame=frame.assign(state=frame["state"].astype(str)),
                              outcome="categorical")
    rows, _ = simulate.sample(pop, 3000, seed=5)
    f = mrp.fit(rows, "y", group_effects=["race4"], fixed_effects=["sex"], family="categorical",
                **SMALL)
    assert f.spec.outcome_levels == ("Democrat", "Independent", "Republican")
    est = mrp.poststratify(f, pop.cells, by=None)
    tab = est.table.set_index("level")
    assert tab["estimate"].sum() == pytest.approx(1.0, abs=1e-9)
    truth = pop.truth_overall.set_index("level")["estimate"]
    assert (tab["estimate"] - truth).abs().max() < 0.03
    assert set(f.effects("sex")["category"]) == {"Independent", "Republican"}


def test_persona_type_effect_recovered_with_sign():
    pop = simulate.population()
    rows, _ = simulate.sample(pop, 4000, seed=9)
    rng = np.random.default_rng(9)
    types = np.array(["meta", "objective", "subjective", "descriptive"])
    rows["persona_type"] = rng.choice(types, len(rows))
    shift = pd.Series({"meta": 0.0, "objective": 0.0, "subjective": -0.4, "descriptive": -1.0})
    p = pop.prob()[:, 1]  # re-draw answers with the type's shift on each row's cell probability
    key = pop.cells.set_index(["state", "race4", "sex", "age6", "educ5"]).index
    cell = key.get_indexer(pd.MultiIndex.from_frame(rows[["state", "race4", "sex", "age6",
                                                          "educ5"]].astype(str)))
    eta = np.log(p[cell] / (1 - p[cell])) + shift[rows["persona_type"]].to_numpy()
    rows["y"] = (rng.random(len(rows)) < 1 / (1 + np.exp(-eta))).astype(int)
    f = mrp.fit(rows, "y", group_effects=["race4", "educ5", "persona_type"], **SMALL)
    e = f.effects("persona_type", reference="meta").set_index("level")
    assert e.loc["descriptive", "ci_high"] < 0
    assert e.loc["descriptive", "mean"] < e.loc["subjective", "mean"]
    frame = pop.cells
    as_meta = mrp.poststratify(f, frame, by=None, set={"persona_type": "meta"}).table
    as_desc = mrp.poststratify(f, frame, by=None, set={"persona_type": "descriptive"}).table
    assert as_meta["estimate"].iloc[0] > as_desc["estimate"].iloc[0] + 0.1
    truth = pop.truth_overall["estimate"].iloc[0]
    assert abs(as_meta["estimate"].iloc[0] - truth) < 0.04
    with pytest.raises(DataError, match="persona_type"):
        mrp.poststratify(f, frame, by=None, set={"persona_type": "narrative"})


def test_update_frame_meets_every_new_margin():
    frame = poststrat_frame()
    frame = frame[frame["state"].isin(["TX", "VT"])].copy()
    frame["state"] = frame["state"].astype(str)
    with pytest.warns(UserWarning, match="universes"):
        t = census_targets(["sex", "race4"], by="state", universe="acs2023", states=["TX", "VT"])
    new = mrp.update_frame(frame, t)
    total = frame["n"].sum()
    assert new["n"].sum() == pytest.approx(total, rel=1e-9)
    for m in t:
        got = new.groupby(list(m.variables), observed=True)["n"].sum()
        for lv, share in zip(m.levels, m.values, strict=True):
            assert got[lv] == pytest.approx(share * total, rel=1e-7)
    # associations kept: within TX Female, the age distribution is unchanged
    def age_dist(f):
        s = f[(f.state == "TX") & (f.sex == "Female")].groupby("age6", observed=True)["n"].sum()
        return s / s.sum()
    assert not np.allclose(new["n"], frame["n"])
    assert age_dist(new).to_numpy() == pytest.approx(age_dist(frame).to_numpy(), abs=0.02)


def test_extend_frame_reproduces_reference_shares():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"sex": rng.choice(["Female", "Male"], 4000)})
    p_dem = np.where(ref["sex"] == "Female", 0.6, 0.4)
    ref["pid"] = np.where(rng.random(4000) < p_dem, "Democrat", "Republican")
    frame = pd.DataFrame({"sex": ["Female", "Male"], "age6": ["18-29", "18-29"],
                          "n": [1000.0, 500.0]})
    ext = mrp.extend_frame(frame, ref, "pid", by=["sex"], prior_sd=10.0)
    emp = pd.crosstab(ref["sex"], ref["pid"], normalize="index")
    got = ext.pivot_table(index="sex", columns="pid", values="n", observed=True)
    got = got.div(got.sum(axis=1), axis=0)
    assert np.allclose(got.loc[emp.index, emp.columns], emp, atol=0.005)
    assert ext.groupby("sex")["n"].sum().to_dict() == pytest.approx({"Female": 1000.0,
                                                                     "Male": 500.0})
    with pytest.raises(DataError, match="educ5"):
        mrp.extend_frame(frame, ref, "pid", by=["educ5"])


def test_second_fit_of_same_structure_reuses_compiled_model(world):
    pop, _, f = world
    rows, _ = simulate.sample(pop, 3000, seed=12)  # fewer rows -> fewer cells, same terms
    g = mrp.fit(rows, "y", group_effects=["state", "age6", "race4", "educ5", "sex"],
                sampler=CENTRED["sampler"], gate=mrp.Gate("warn", **LOOSE))  # not checked here
    assert not f.options["cached"] or f.options["compile_s"] < 1
    assert g.options["cached"] and g.options["compile_s"] < 1
    assert g.cells.n_cells != f.cells.n_cells
    assert g.options["rows"] == 3000
    # the new data really went in: the Intercept tracks the new sample's cells
    est = mrp.poststratify(g, pop.cells, by=None).table["estimate"].iloc[0]
    assert abs(est - pop.truth_overall["estimate"].iloc[0]) < 0.04


def test_poststratify_chunked_over_draws_gives_same_result(world):
    pop, _, f = world
    a = mrp.poststratify(f, pop.cells, by="state")
    b = mrp.poststratify(f, pop.cells, by="state", chunk_elements=len(pop.cells) * 2 * 7)
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=False, rtol=1e-12)
    assert np.allclose(a.draws["estimate"], b.draws["estimate"], rtol=1e-12, atol=0)
    # a categorical `by` column (the full population frame has one) orders by its categories
    cat = pop.cells.assign(state=pd.Categorical(pop.cells["state"], categories=STATES[::-1]))
    c = mrp.poststratify(f, cat, by="state").table
    assert c["domain"].tolist() == [*STATES[::-1], "Total"]
    assert np.allclose(c.set_index("domain").loc[STATES, "estimate"],
                       a.table.set_index("domain").loc[STATES, "estimate"], rtol=1e-12)


def test_summary_matches_diagnostics_by_name(world):
    _, _, f = world
    s = f.summary()
    shuffled = mrp.MRPFit(f.idata, f.cells, f.spec, f.diagnostics.iloc[::-1], f.options)
    s2 = shuffled.summary()
    pd.testing.assert_frame_equal(s, s2)
    assert s.loc["sd_state", "r_hat"] == pytest.approx(f.diagnostics.loc["sd_state", "r_hat"])
    assert s.loc["b_race4[Black]", "ess_bulk"] == pytest.approx(
        f.diagnostics.loc["b_race4[Black]", "ess_bulk"])
    partial = mrp.MRPFit(f.idata, f.cells, f.spec, f.diagnostics.iloc[1:], f.options)
    with pytest.raises(DataError, match="diagnostics"):
        partial.summary()


def test_fit_and_poststratify_feed_the_election_forecast(world):
    from calib.election import forecast

    pop, _, f = world
    est = mrp.poststratify(f, pop.cells, by="state")
    fc = forecast(est.draws, 2016, republican=True, fill_missing="previous", national_sd=0.0,
                  draws=4000, seed=1)
    st = fc.states.set_index("state")
    mrp_rep = est.table[est.table["by"] == "state"].set_index("domain")
    for s in STATES:
        assert not st.loc[s, "filled"]
        # y = 1 is the Republican vote: the forecast's Democratic share is 1 - the MRP share
        assert st.loc[s, "estimate"] == pytest.approx(1 - mrp_rep.loc[s, "estimate"],
                                                      abs=4 * mrp_rep.loc[s, "se"] / 60)
    assert st["filled"].sum() == 51 - len(STATES)
    assert 0 <= fc.ev_draws.min() and fc.ev_draws.max() <= 538


def test_auto_centring_ignores_empty_levels():
    rng = np.random.default_rng(4)
    n = 900
    df = pd.DataFrame({"g": pd.Categorical(rng.choice(list("abc"), n),
                                           categories=["a", "b", "c", "z"]),
                       "h": rng.choice(["x", "y"], n, p=[0.95, 0.05])})
    df["y"] = rng.integers(0, 2, n)
    from calib.core.cells import collapse, encode
    from calib.mrp.spec import build_spec

    cells, _ = collapse(encode(df, ["g", "h"]))
    spec = build_spec(cells, "y", "binomial", ("0", "1"), ["g", "h"], [], [], None,
                      centered="auto", center_min=100)
    assert "z" in spec.term("g").levels  # the empty level is kept (prior only) ...
    assert spec.term("g").centered  # ... but does not make the term non-centred
    assert not spec.term("h").centered  # 'y' has ~45 rows < 100


def test_domain_predictors_need_rows_only_for_levels_with_data():
    """An unused category (DC in a 50-state sample) needs no predictor row; a used one does."""
    from calib.core.cells import collapse, encode
    from calib.core.errors import DataError
    from calib.mrp.spec import build_spec

    rng = np.random.default_rng(5)
    df = pd.DataFrame({"g": pd.Categorical(rng.choice(list("abc"), 300),
                                           categories=["a", "b", "c", "z"])})
    df["y"] = rng.integers(0, 2, 300)
    cells, _ = collapse(encode(df, ["g"]))
    dp = pd.DataFrame({"g": ["a", "b", "c"], "x": [1.0, 2.0, 4.0]})
    spec = build_spec(cells, "y", "binomial", ("0", "1"), ["g"], [], [], dp)
    t = spec.term("x")
    assert t.center == pytest.approx(7 / 3) and t.scale == pytest.approx(np.std([1, 2, 4]))
    with pytest.raises(DataError, match=r"lack g levels \['c'\]"):
        build_spec(cells, "y", "binomial", ("0", "1"), ["g"], [], [], {"g": dp.iloc[:2]})


def test_extend_frame_reports_dropped_rows():
    ref = pd.DataFrame({"sex": ["Female", "Male", None, "Female", "Male", "Male"],
                        "pid": ["Democrat", "Republican", "Democrat", None, "Democrat", None]})
    frame = pd.DataFrame({"sex": ["Female", "Male"], "n": [10.0, 10.0]})
    with pytest.warns(UserWarning, match="dropped 3 of 6"):
        ext = mrp.extend_frame(frame, ref, "pid", by=["sex"], missing="drop")
    assert ext.attrs["dropped"] == {"sex": 1, "pid": 2, "rows": 3}
    assert ext.attrs["reference_rows"] == 3
    with pytest.raises(DataError, match="missing"):
        mrp.extend_frame(frame, ref, "pid", by=["sex"])
    full = mrp.extend_frame(frame, ref.dropna(), "pid", by=["sex"])
    assert full.attrs["dropped"] == {}


def test_sampler_settings_are_one_checked_object():
    """fit takes the data and the outcome positionally, the rest by keyword; the sampler
    settings are one Sampler, a study's flat options map onto it (fit_options)."""
    with pytest.raises(DataError, match="backend='stan'"):
        mrp.Sampler(backend="stan")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="chains=0"):
        mrp.Sampler(chains=0)
    with pytest.raises(DataError, match="centered='yes'"):
        mrp.Sampler(centered="yes")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="max_rhatt"):
        mrp.Gate.of("warn", {"max_rhatt": 1.1})
    with pytest.raises(DataError, match="gate='maybe'"):
        mrp.Gate("maybe")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mrp.fit(pd.DataFrame({"y": [0, 1]}), "y", ["g"])  # type: ignore[misc]
    kw = mrp.fit_options({"draws": 50, "sampler": "nutpie", "sampler_options": {"a": 1},
                          "thresholds": {"max_rhat": 1.2}, "family": "categorical"})
    assert kw["sampler"] == mrp.Sampler(draws=50, backend="nutpie", options={"a": 1})
    assert kw["gate"] == mrp.Gate("raise", max_rhat=1.2) and kw["family"] == "categorical"
    base = mrp.Sampler(chains=2, backend="nutpie")
    assert mrp.fit_options({"seed": 4}, base)["sampler"] == mrp.Sampler(chains=2,
                                                                        backend="nutpie", seed=4)
    dp = pd.DataFrame({"g": ["a"], "x": [1.0]})
    assert mrp.fit_options({"domain_predictors": dp, "domain_key": "g"})[
        "domain_predictors"]["g"] is dp


def test_fit_repr_and_notebook_view_are_short(world):
    # the dataclass repr printed the posterior and the cell table
    f = world[2]
    r = repr(f)
    assert r.startswith("<MRPFit model y ~ state + age6") and "\n" not in r and len(r) < 400
    assert "2 chains x 300 draws" in r and "max R-hat" in r and "divergences" in r
    h = f._repr_html_()
    assert "calib MRPFit" in h and "<table" in h and len(h) < 5000
