"""``calib hybrid --by state --method ppi|small-area|mrp`` (issue 15) and the joint MRP's bias
structure: every domain gets a row with small-area and mrp (0 or 1 human included), ``ppi``
refuses domains under ``--min-human`` naming them, and a ``bias_by`` without its main effect
warns (the default has one bias term)."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

from calib.cli.commands import hybrid as hybrid_cmd
from calib.cli.main import main

STATES = [f"S{i:02d}" for i in range(24)]
jm = importlib.import_module("calib.hybrid.joint_mrp")  # the package attribute is the function
REGIONS = {s: ("North", "South", "East", "West")[i % 4] for i, s in enumerate(STATES)}


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


def simulate(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Personas (60 per state) and humans with a constant log-odds shift of 1.5 between the
    LLM's answers and people's. Humans: 0 in S00, 1 in S01, 3 in S02, 30 in S03-S05, 12
    elsewhere."""
    rng = np.random.default_rng(seed)
    eff = dict(zip(STATES, rng.normal(0, 0.4, len(STATES)), strict=True))
    nh = {s: 12 for s in STATES} | {"S00": 0, "S01": 1, "S02": 3, "S03": 30, "S04": 30,
                                    "S05": 30}

    def rows(state: np.ndarray) -> pd.DataFrame:
        age = rng.choice(["18-44", "45+"], state.size)
        eta = np.array([eff[s] for s in state]) + np.where(age == "45+", -0.3, 0.3)
        y = (rng.random(state.size) < 1 / (1 + np.exp(-eta))).astype(int)
        llm = (rng.random(state.size) < 1 / (1 + np.exp(-(eta + 1.5)))).astype(int)
        return pd.DataFrame({"state": state, "region": [REGIONS[s] for s in state],
                             "age": age, "llm": llm, "y": y})

    p = rows(np.repeat(STATES, 60)).drop(columns="y")
    h = rows(np.repeat(STATES, [nh[s] for s in STATES]))
    return p, h


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hyb")
    p, h = simulate()
    p.to_csv(d / "p.csv", index=False)
    h.to_csv(d / "h.csv", index=False)
    frame = (p.groupby(["state", "region", "age"]).size().rename("count").reset_index())
    frame.to_csv(d / "frame.csv", index=False)
    return d


def args(files, *extra):
    return ("hybrid", files / "p.csv", "--human", files / "h.csv", "--outcome", "llm",
            "--human-outcome", "y", "--by", "state", *extra)


def test_small_area_gives_every_state_a_row(files, tmp_path, capsys):
    code, cap = cli(capsys, *args(files, "--method", "small-area", "--group", "region",
                                  "--out", tmp_path / "sa.csv"))
    assert code == 0, cap.err
    t = pd.read_csv(tmp_path / "sa.csv", keep_default_na=False, na_values=[""])
    assert t["domain"].tolist() == STATES
    for col in ("estimate", "se", "ci_low", "ci_high", "n", "ess", "deff", "n_human",
                "n_effective_human", "lambda", "estimator", "weight_direct", "var_between"):
        assert col in t.columns
    by = t.set_index("domain")
    assert by.loc["S00", "n_human"] == 0 and by.loc["S01", "n_human"] == 1
    assert by.loc[["S00", "S01"], "estimator"].tolist() == ["synthetic", "synthetic"]
    assert by.loc[["S00", "S01"], "weight_direct"].tolist() == [0.0, 0.0]
    assert np.isnan(by.loc["S00", "lambda"]) and by.loc["S01", "lambda"] == 1.0
    assert (by.drop(["S00", "S01"])["estimator"] == "composite").all()
    assert t["var_between"].nunique() == 1
    assert (t["ci_low"] < t["estimate"]).all() and (t["estimate"] < t["ci_high"]).all()


def test_domains_comma_separated_or_repeated(files, tmp_path, capsys):
    code, cap = cli(capsys, *args(files, "--method", "small-area", "--domains", "S05,S00",
                                  "--domains", "S01", "--json", "--out", tmp_path / "d.csv"))
    assert code == 0, cap.err
    doc = json.loads(cap.out)
    assert [r["domain"] for r in doc["estimates"]] == ["S05", "S00", "S01"]
    code, cap = cli(capsys, *args(files, "--method", "small-area", "--domains", "S05,ZZ",
                                  "--out", tmp_path / "e.csv"))
    assert code == 2 and "ZZ" in cap.err


def test_ppi_refuses_domains_under_min_human_naming_them(files, tmp_path, capsys):
    code, cap = cli(capsys, *args(files, "--method", "ppi", "--out", tmp_path / "p.csv"))
    assert code == 2
    err = " ".join(cap.err.split())
    # the state with no human is named, not silently dropped
    for name in ("S00 (0)", "S01 (1)", "S02 (3)", "S06 (12)", "--method small-area",
                 "--min-human 20"):
        assert name in err
    assert "S03" not in err
    assert not (tmp_path / "p.csv").exists()


def test_ppi_direct_on_domains_above_min_human(files, tmp_path, capsys):
    code, cap = cli(capsys, *args(files, "--method", "ppi", "--domains", "S03,S04,S05",
                                  "--out", tmp_path / "p.csv"))
    assert code == 0, cap.err
    t = pd.read_csv(tmp_path / "p.csv")
    assert t["domain"].unique().tolist() == ["S03", "S04", "S05"]  # no Total over a subset
    assert (t["estimator"] == "direct").all()
    code, cap = cli(capsys, *args(files, "--method", "ppi", "--min-human", "10", "--domains",
                                  "S02,S03", "--out", tmp_path / "q.csv"))
    assert code == 2 and "S02 (3)" in cap.err


def test_unknown_method_lists_small_area(files, tmp_path, capsys):
    code, cap = cli(capsys, *args(files, "--method", "nope", "--out", tmp_path / "x.csv"))
    assert code == 2 and "small-area" in cap.err


def test_warns_below_the_documented_n(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(hybrid_cmd.UNDER_NOMINAL_BELOW, "small-area", 5)
    code, cap = cli(capsys, *args(files, "--method", "small-area", "--out", tmp_path / "w.csv"))
    assert code == 0, cap.err
    assert "warning: 3 domains have fewer than 5 humans" in cap.out
    assert "S00 (0), S01 (1), S02 (3)" in cap.out


def test_parse_domains_and_counts():
    assert hybrid_cmd.parse_domains(["CA, TX", "NY"]) == ("CA", "TX", "NY")
    h = pd.DataFrame({"state": ["CA", "CA", "TX"]})
    assert hybrid_cmd.human_counts(h, "state", ["CA", "NY", "TX"]).tolist() == [2, 0, 1]


def test_bias_by_without_its_main_effect_warns_and_default_is_one_term(monkeypatch):
    p, h = simulate(1)
    seen = {}

    def fake_fit(data, outcome, **kw):  # the structure only; no sampling
        seen["bias"] = sorted(set(data["bias"]))
        seen["kw"] = kw
        return "fit"

    monkeypatch.setattr(jm, "fit", fake_fit)
    with pytest.warns(UserWarning, match=r"bias_by='region'.*confounded.*fixed="):
        jm.fit_joint(p, h, "llm", "y", cells=["state", "age"], bias_by="region")
    assert len(seen["bias"]) == 5  # human + 4 persona x region levels
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jm.fit_joint(p, h, "llm", "y", cells=["state", "age"], bias_by="region",
                     fixed=["region"])
        assert seen["kw"]["fixed_effects"] == ["region"]
        jm.fit_joint(p, h, "llm", "y", cells=["state", "age"])
    assert seen["bias"] == ["human", "persona"]  # the default: one bias term


@pytest.mark.filterwarnings("ignore:MRP fit failed its diagnostics gate")
def test_mrp_on_the_users_frame_gives_every_state_a_row(files, tmp_path, capsys):
    out = tmp_path / "m.csv"
    table = hybrid_cmd.run(
        files / "p.csv", files / "h.csv", "llm", out, human_outcome="y", by="state",
        method="mrp", seed=1,
        options=hybrid_cmd.DomainOptions(groups=("state", "age"), frame=files / "frame.csv",
                                         frame_count="count", gate="warn"))
    fit = table.attrs["fit"]
    assert list(fit.spec.term("bias").levels) == ["human", "persona"]
    t = pd.read_csv(out)
    assert t["domain"].tolist() == [*STATES, "Total"]
    by = t.set_index("domain")
    assert by.loc["S00", "estimator"] == "synthetic" and by.loc["S00", "n_human"] == 0
    assert by.loc["S01", "estimator"] == "composite"
    assert "gate" in t.columns and np.isnan(by.loc["S00", "lambda"])
    summary = hybrid_cmd.fit_summary(fit, "warn")
    assert summary["gate"] == t["gate"].iloc[0] and summary["max_rhat"] > 0.99


def test_demo_coverage_is_averaged_over_repetitions_with_mcse():
    from types import SimpleNamespace

    from calib.studies import demo_coverage as dc

    cfg = {"personas": {"simulate": {"seed": 10}, "persona_type": "descriptive"},
           "analysis": {"methods": ["raw", "ppi", "joint-mrp"], "seed": 10},
           "forecast": {"year": 2024}}
    first = pd.DataFrame({"method": ["raw"] * 2 + ["ppi"] * 2 + ["joint-mrp"] * 2,
                          "covered": [False, False, True, False, True, True]})
    seen, now = [], [0.0]

    def run(c):
        seen.append(c)
        now[0] += 4.0  # each extra repetition takes 4 s
        cov = [False, False, True, True]
        return SimpleNamespace(comparison=SimpleNamespace(table=pd.DataFrame(
            {"method": ["raw", "raw", "ppi", "ppi"], "covered": cov})))

    cov = dc.repeated_coverage(cfg, first, run, reps=5, budget_s=20, clock=lambda: now[0])
    assert len(seen) == 4  # 4 extra repetitions (16 s) fit the 20 s budget, the demo's run first
    assert [c["personas"]["simulate"]["seed"] for c in seen] == [11, 12, 13, 14]
    assert all(c["analysis"]["methods"] == ["raw", "ppi"] and "forecast" not in c for c in seen)
    assert seen[0]["personas"]["simulate"]["persona_types"] == ("descriptive",)
    by = cov.set_index("method")
    assert by.loc["ppi", "reps"] == 5 and by.loc["ppi", "coverage"] == pytest.approx(0.9)
    assert by.loc["ppi", "coverage_mcse"] == pytest.approx(0.1)  # clustered: rep 0 at 0.5
    assert by.loc["joint-mrp", "reps"] == 1 and np.isnan(by.loc["joint-mrp", "coverage_mcse"])
    now[0] = 0.0
    seen.clear()
    dc.repeated_coverage(cfg, first, run, reps=5, budget_s=10, clock=lambda: now[0])
    assert len(seen) == 2  # a third would pass the budget
    summary = pd.DataFrame({"method": ["ppi", "joint-mrp"], "rmse": [0.05, 0.03],
                            "coverage": [0.5, 1.0]})
    shown = dc.with_coverage(summary, cov).set_index("method")
    assert shown.loc["ppi", "coverage"] == pytest.approx(0.9)
    assert shown.loc["ppi", "coverage_reps"] == 5 and shown.loc["joint-mrp", "coverage_reps"] == 1


def test_demo_and_report_show_repeated_coverage(tmp_path, monkeypatch):
    """At a reduced scale: the demo's table and the report carry the coverage over
    repetitions with its MCSE, not one realization."""
    import copy

    from calib.studies import demo, demo_study

    study = copy.deepcopy(demo_study.STUDY)
    study["personas"]["simulate"].update(per_state=200, human_n=1500)
    study["analysis"]["methods"] = ["raw", "ppi", "small-area"]
    study["analysis"]["variables"] = ["age6", "sex"]
    study["forecast"]["draws"] = 1000
    monkeypatch.setattr(demo_study, "STUDY", study)
    monkeypatch.setattr(demo_study, "OUT", tmp_path)
    ctx = {"results": {}}
    text = demo.STEPS[5].run(ctx)
    assert "mcse" in text and "repetitions" in text
    cov = {r["method"]: r for r in ctx["results"]["study"]["coverage"]}
    assert cov["ppi"]["reps"] >= 2 and cov["ppi"]["intervals"] == 50 * cov["ppi"]["reps"]
    s = {r["method"]: r for r in ctx["results"]["study"]["summary"]}
    assert s["small-area"]["coverage"] == pytest.approx(cov["small-area"]["coverage"])
    assert demo.STEPS[6].run(ctx).startswith("wrote")
    html = (tmp_path / "report.html").read_text()
    assert "coverage_mcse" in html and "coverage_reps" in html


def test_domains_need_by(files, tmp_path, capsys):
    code, cap = cli(capsys, "hybrid", files / "p.csv", "--human", files / "h.csv", "--outcome",
                    "llm", "--human-outcome", "y", "--domains", "S03", "--out", tmp_path / "x.csv")
    assert code == 2 and "--domains" in cap.err
