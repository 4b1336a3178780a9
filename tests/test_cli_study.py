"""CLI: simulate -> estimate -> forecast -> backtest; compare; run study.toml; mrp exit codes."""

import json

import pandas as pd

from calib.cli.main import main


def test_simulate_estimate_forecast_backtest(tmp_path):
    p, h, t = tmp_path / "p.parquet", tmp_path / "h.csv", tmp_path / "t.csv"
    assert main(["simulate", "--personas", str(p), "--human", str(h), "--truth", str(t),
                 "--per-state", "40", "--human-n", "200", "--seed", "3"]) == 0
    e = tmp_path / "e.csv"
    assert main(["estimate", str(p), "--outcome", "vote_dem", "--by", "state",
                 "--out", str(e)]) == 0
    f = tmp_path / "f.json"
    # the CVAP frame has no DC: an error naming it, unless filled explicitly
    assert main(["forecast", str(e), "--year", "2024", "--out", str(f)]) == 2
    assert main(["forecast", str(e), "--year", "2024", "--out", str(f), "--fill-missing",
                 "previous", "--seed", "1", "--draws", "2000"]) == 0
    fc = json.loads(f.read_text())
    assert {"p_dem_win", "electoral_votes", "popular_vote", "states"} <= set(fc)
    assert fc["options"]["filled"].keys() == {"DC"}
    m = tmp_path / "m.json"
    assert main(["backtest", str(f), "--year", "2024", "--json", str(m)]) == 0
    metrics = json.loads(m.read_text())
    assert {"rmse", "bias", "winners_correct", "states", "brier", "log_score", "ev_error",
            "coverage"} <= set(metrics)
    assert metrics["states"] == 51 and metrics["bias"] > 0  # personas lean D
    assert main(["backtest", str(f), "--year", "2024", "--json", str(m)]) == 2  # no overwrite


def test_compare_and_run_study(tmp_path):
    p, t = tmp_path / "p.parquet", tmp_path / "t.csv"
    assert main(["simulate", "--personas", str(p), "--truth", str(t), "--per-state", "200",
                 "--human-n", "0", "--seed", "4"]) == 0
    out = tmp_path / "c.csv"
    assert main(["compare", str(p), "--outcome", "vote_dem", "--benchmark", str(t),
                 "--method", "raw", "--method", "rake", "--persona-type", "meta",
                 "--variable", "age6", "--variable", "sex", "--out", str(out)]) == 0
    s = pd.read_csv(tmp_path / "c_summary.csv")
    assert s["method"].tolist() == ["raw", "rake"] and (s["status"] == "ok").all()
    study = tmp_path / "study.toml"
    study.write_text(f"""
[personas]
simulate = {{ year = 2024, per_state = 200, human_n = 0, seed = 4 }}
persona_type = "meta"
[analysis]
methods = ["raw", "rake"]
variables = ["age6", "sex"]
[forecast]
year = 2024
fill_missing = "previous"
draws = 1000
[outputs]
dir = "{tmp_path / 'study'}"
report = false
""")
    assert main(["run", str(study)]) == 0
    assert (tmp_path / "study" / "summary.csv").exists()
    assert (tmp_path / "study" / "forecast_rake.json").exists()
    assert main(["run", str(study)]) == 2  # outputs exist: refused without --overwrite
    assert main(["run", str(study), "--overwrite"]) == 0
