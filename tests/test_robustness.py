"""Bad, odd and faulty inputs against the ``calib`` CLI, in process and in temporary folders.

The contract: exit 0 (done), 2 (bad input, a one-line message naming the flag, key, value or
file), 3 (failed diagnostics, non-convergence, every method failed); never 1 ("internal
error") for a user's mistake, never a silent wrong answer with exit 0. Property tests
(hypothesis, at most 50 examples each) feed malformed tables and targets and check that the
exit code is 0, 2 or 3, that nothing is left under the output name on failure and that the
input files are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calib import Sample
from calib.cli.main import main
from calib.data.variables import STATES
from calib.estimation import estimate

N = 120


def _sample(d: Path, name: str = "s.csv", **edits: dict[int, str]) -> Path:
    """A small sample (sex, age, 0/1 outcome y, weight w) with cells replaced by ``edits``."""
    rng = np.random.default_rng(3)
    f = pd.DataFrame({"sex": rng.choice(["M", "F"], N), "age": rng.choice(["a", "b", "c"], N),
                      "y": rng.integers(0, 2, N).astype(str), "w": "1"})
    for col, cells in edits.items():
        for i, v in cells.items():
            f.loc[i, col] = v
    p = d / name
    f.to_csv(p, index=False)
    return p


def _targets(d: Path, scale: str = "share") -> Path:
    values = [0.5, 0.5, 0.3, 0.3, 0.4] if scale == "share" else [500, 500, 300, 300, 400]
    p = d / f"t_{scale}.csv"
    pd.DataFrame({"variable": ["sex", "sex", "age", "age", "age"],
                  "level": ["M", "F", "a", "b", "c"], scale: values}).to_csv(p, index=False)
    return p


def _run(args: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


def _one_error(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, text
    return lines[0]


# --- silently wrong with exit 0 -----------------------------------------------------------


@pytest.mark.parametrize("token", ["NA", "refused", ""])
def test_missing_outcome_tokens_are_left_out_and_counted_not_a_phantom_level(
        tmp_path, capsys, token):
    p = _sample(tmp_path, y={0: token, 1: token, 2: token})
    code, text = _run(["estimate", p, "--outcome", "y", "--weight", "w",
                       "--out", tmp_path / "e.csv"], capsys)
    assert code == 0, text
    e = pd.read_csv(tmp_path / "e.csv", keep_default_na=False)
    assert len(e) == 1 and e["level"].astype(str).tolist() == [""]  # numeric: a proportion
    assert "3 rows with a missing value are left out" in text
    full = pd.read_csv(p, dtype=str, keep_default_na=False)
    kept = full[~full["y"].isin([token])]["y"].astype(float)
    assert e["estimate"].iloc[0] == pytest.approx(kept.mean(), abs=1e-12)


def test_missing_policy_error_and_level(tmp_path, capsys):
    p = _sample(tmp_path, y={4: "refused"}, sex={5: "NA"})
    code, text = _run(["estimate", p, "--outcome", "y", "--weight", "w", "--missing", "error",
                       "--out", tmp_path / "e.csv"], capsys)
    assert code == 2 and "row 5" in _one_error(text)
    assert not (tmp_path / "e.csv").exists()
    code, text = _run(["estimate", p, "--outcome", "y", "--by", "sex", "--weight", "w",
                       "--missing", "level", "--out", tmp_path / "e.csv"], capsys)
    assert code == 2 and "numeric" in _one_error(text)  # a numeric outcome has no level
    code, text = _run(["estimate", p, "--outcome", "sex", "--by", "age", "--weight", "w",
                       "--missing", "level", "--out", tmp_path / "e2.csv"], capsys)
    assert code == 0, text
    assert "Missing" in set(pd.read_csv(tmp_path / "e2.csv")["level"])


def test_missing_by_tokens_belong_to_no_domain(tmp_path, capsys):
    p = _sample(tmp_path, sex={0: "NA", 1: "refused"})
    code, text = _run(["estimate", p, "--outcome", "y", "--by", "sex", "--weight", "w",
                       "--out", tmp_path / "e.csv"], capsys)
    assert code == 0, text
    assert sorted(pd.read_csv(tmp_path / "e.csv")["domain"]) == ["F", "M"]


def test_python_estimate_has_no_phantom_level():
    df = pd.DataFrame({"v": ["a", "b", "NA", "a", "refused"], "g": list("xxyyy")})
    with pytest.warns(UserWarning, match="2 rows"):
        e = estimate(Sample(df), "v")
    assert e["level"].tolist() == ["a", "b"]
    assert e["estimate"].sum() == pytest.approx(1.0)
    with pytest.raises(Exception, match="2 rows have a missing value"):
        estimate(Sample(df), "v", missing="error")
    lv = estimate(Sample(df), "v", missing="level")
    assert lv["level"].tolist() == ["Missing", "a", "b"]


def test_out_of_core_missing_outcome_is_refused_by_name(tmp_path, capsys):
    p = _sample(tmp_path, y={0: "NA"})
    code, text = _run(["estimate", p, "--outcome", "y", "--weight", "w", "--engine", "duckdb",
                       "--out", tmp_path / "e.csv"], capsys)
    assert code == 2 and "1 rows have missing values" in _one_error(text)
    assert not (tmp_path / "e.csv").exists()


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_number_with_a_comma_in_an_outcome_is_named(tmp_path, capsys, engine):
    p = _sample(tmp_path, y={7: "1,000"})
    code, text = _run(["estimate", p, "--outcome", "y", "--weight", "w", "--engine", engine,
                       "--out", tmp_path / "e.csv"], capsys)
    assert code == 2 and "'1,000'" in _one_error(text)


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_duplicate_column_name_is_refused(tmp_path, capsys, engine):
    (tmp_path / "d.csv").write_text("sex,sex,y,w\nM,F,1,1\nF,M,0,1\n")
    code, text = _run(["estimate", tmp_path / "d.csv", "--outcome", "y", "--weight", "w",
                       "--engine", engine, "--out", tmp_path / "e.csv"], capsys)
    assert code == 2 and "'sex' twice" in _one_error(text)


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_population_with_totals_is_refused(tmp_path, capsys, engine):
    p = _sample(tmp_path)
    code, text = _run(["weight", p, "--targets", _targets(tmp_path, "total"), "--method",
                       "rake", "--population", "100", "--engine", engine, "--out",
                       tmp_path / "w.parquet"], capsys)
    assert code == 2 and "--population" in _one_error(text)


def test_duckdb_missing_drop_counts_the_rows(tmp_path, capsys):
    p = _sample(tmp_path, sex={0: "NA", 1: ""})
    args = ["estimate", p, "--outcome", "y", "--targets", _targets(tmp_path), "--method",
            "rake", "--missing", "drop"]
    code, text = _run([*args, "--engine", "duckdb", "--out", tmp_path / "d.csv"], capsys)
    assert code == 0 and "2 rows dropped" in text, text
    code, _ = _run([*args, "--out", tmp_path / "m.csv"], capsys)
    a, b = pd.read_csv(tmp_path / "d.csv"), pd.read_csv(tmp_path / "m.csv")
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-10)


def _states(d: Path, estimate: object, name: str = "e.csv") -> Path:
    p = d / name
    pd.DataFrame({"state": list(STATES), "estimate": estimate, "se": 0.01}).to_csv(p, index=False)
    return p


@pytest.mark.parametrize(("extra", "needle"), [
    (["--national-sd", "-0.02"], "--national-sd"), (["--national-sd", "nan"], "--national-sd"),
    (["--draws", "0"], "--draws"), (["--draws", "-5"], "--draws"),
    (["--draws", "2000000000"], "--draws"), (["--draws", "2e9"], "draws"),
])
def test_forecast_flags_are_validated(tmp_path, capsys, extra, needle):
    code, text = _run(["forecast", _states(tmp_path, 0.55), "--year", "2024", "--out",
                       tmp_path / "f.json", *extra], capsys)
    assert code == 2 and needle in text
    assert not (tmp_path / "f.json").exists()


def test_forecast_refuses_percentages_and_decimal_commas(tmp_path, capsys):
    code, text = _run(["forecast", _states(tmp_path, 55.0), "--year", "2024", "--out",
                       tmp_path / "f.json"], capsys)
    assert code == 2 and "divide by 100" in _one_error(text) and "'AL'" in text
    code, text = _run(["forecast", _states(tmp_path, "0,55", "c.csv"), "--year", "2024",
                       "--out", tmp_path / "f.json"], capsys)
    assert code == 2 and "'0,55'" in _one_error(text)


def _study(d: Path, analysis: str, name: str = "s.toml") -> Path:
    p = d / name
    p.write_text('[personas]\nsimulate = { year = 2024, per_state = 30, human_n = 0, seed = 2 }'
                 '\npersona_type = "meta"\n[analysis]\n' + analysis)
    return p


@pytest.mark.parametrize(("analysis", "needle"), [
    ('method = ["raw"]\n', "no key 'method'"),
    ('methods = "raw"\n', "methods"),
    ("level = 7\n", "out of range"),
    ('methods = ["raw"]\nseed = -1\n', "seed"),
])
def test_study_file_keys_types_and_ranges(tmp_path, capsys, analysis, needle):
    code, text = _run(["run", _study(tmp_path, analysis)], capsys)
    assert code == 2 and needle in _one_error(text)


def test_study_folder_for_a_file(tmp_path, capsys):
    (tmp_path / "dir").mkdir()
    p = tmp_path / "s.toml"
    p.write_text(f'[personas]\npath = "{tmp_path / "dir"}"\n')
    code, text = _run(["run", p], capsys)
    assert code == 2 and "folder" in _one_error(text)
    code, text = _run(["run", tmp_path / "dir"], capsys)
    assert code == 2


def test_every_method_failed_exits_3(tmp_path, capsys):
    study = _study(tmp_path, 'methods = ["calibrate-logit"]\nvariables = ["age6"]\n'
                   'options = { "calibrate-logit" = { bounds = [0.99, 1.0] } }\n'
                   '[outputs]\ndir = "' + str(tmp_path / "o") + '"\n')
    code, text = _run(["run", study], capsys)
    assert code == 3 and "every method failed" in _one_error(text)
    assert not (tmp_path / "o" / "summary.csv").exists()


def test_compare_every_method_failed_exits_3(tmp_path, capsys):
    from calib.studies.election_study import election_study

    s = election_study(2024, per_state=10, human_n=0, seed=1)
    s.personas[s.personas["persona_type"] == "meta"].to_csv(tmp_path / "p.csv", index=False)
    code, text = _run(["compare", tmp_path / "p.csv", "--outcome", "vote_dem", "--certified",
                       "2024", "--method", "propensity", "--out", tmp_path / "c.csv"], capsys)
    assert code == 3 and "every method failed" in _one_error(text)
    assert not (tmp_path / "c.csv").exists()


# --- exit 1 on user error -> 2 ------------------------------------------------------------


def test_empty_targets_file(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("")
    code, text = _run(["weight", _sample(tmp_path), "--targets", tmp_path / "t.csv",
                       "--method", "rake", "--out", tmp_path / "w.csv"], capsys)
    assert code == 2, text


def test_out_is_a_directory(tmp_path, capsys):
    (tmp_path / "o.csv").mkdir()
    code, text = _run(["estimate", _sample(tmp_path), "--outcome", "y", "--weight", "w",
                       "--out", tmp_path / "o.csv", "--overwrite"], capsys)
    assert code == 2 and "o.csv" in _one_error(text)


def test_truncated_parquet_under_duckdb(tmp_path, capsys):
    src = pd.read_csv(_sample(tmp_path))
    src["y"] = src["y"].astype(float)
    src.to_parquet(tmp_path / "s.parquet")
    raw = (tmp_path / "s.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(raw[: len(raw) // 2])
    code, text = _run(["estimate", tmp_path / "cut.parquet", "--outcome", "y", "--engine",
                       "duckdb", "--out", tmp_path / "e.csv"], capsys)
    assert code == 2, text
    assert "internal error" not in text


@pytest.mark.parametrize(("extra", "needle"), [
    (["--frame-count", "NN"], "NN"), (["--frame-count", "N", "--level", "2"], "--level"),
    (["--frame-count", "N", "--chains", "0"], "--chains"),
    (["--frame-count", "C"], "1,000"),
])
def test_mrp_flags_checked_before_the_fit(tmp_path, capsys, extra, needle):
    pd.DataFrame({"sex": ["M", "F"], "N": ["1000", "2000"], "C": ["1,000", "2"]}).to_csv(
        tmp_path / "fr.csv", index=False)
    code, text = _run(["mrp", _sample(tmp_path), "--outcome", "y", "--frame",
                       tmp_path / "fr.csv", "--group", "sex", "--by", "sex", "--out",
                       tmp_path / "m.csv", *extra], capsys)
    assert code == 2 and needle in _one_error(text)


def test_mrp_constant_outcome_is_named_not_rhat_nan(tmp_path, capsys):
    pd.DataFrame({"sex": ["M", "F"], "N": ["1000", "2000"]}).to_csv(tmp_path / "fr.csv",
                                                                    index=False)
    p = _sample(tmp_path, y={i: "1" for i in range(N)})
    code, text = _run(["mrp", p, "--outcome", "y", "--frame", tmp_path / "fr.csv", "--group",
                       "sex", "--by", "sex", "--frame-count", "N", "--out", tmp_path / "m.csv"],
                      capsys)
    assert code == 2 and "single value" in _one_error(text) and "nan" not in text.lower()


def test_mrp_partial_trace_is_an_interrupt():
    from types import SimpleNamespace as NS

    from calib.mrp.model import complete_trace
    from calib.mrp.sampler import Sampler

    partial = NS(posterior=NS(sizes={"chain": 4, "draw": 586}))
    with pytest.raises(KeyboardInterrupt):
        complete_trace(partial, Sampler(draws=1000, chains=4))


@pytest.mark.parametrize("content", ["", "state,estimate\nAL,0.5\n", '{"a": 1}', "[1, 2]"])
def test_backtest_bad_forecast_files(tmp_path, capsys, content):
    p = tmp_path / "f.json"
    p.write_text(content)
    code, text = _run(["backtest", p, "--year", "2020"], capsys)
    assert code == 2 and "f.json" in _one_error(text)


def test_memory_error_is_exit_2(tmp_path, capsys, monkeypatch):
    from calib.estimation import domains

    def boom(self, values):
        raise MemoryError

    monkeypatch.setattr(domains.Estimands, "_dense", boom)
    code, text = _run(["estimate", _sample(tmp_path), "--outcome", "y", "--by", "age",
                       "--weight", "w", "--out", tmp_path / "e.csv"], capsys)
    assert code == 2 and "memory" in _one_error(text)


def test_a_real_bug_stays_exit_1(tmp_path, capsys, monkeypatch):
    from calib.estimation import domains

    def bug(*a, **k):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(domains, "build", bug)
    code, text = _run(["estimate", _sample(tmp_path), "--outcome", "y", "--weight", "w",
                       "--out", tmp_path / "e.csv"], capsys)
    assert code == 1 and "internal error" in text


# --- unclear ----------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [["--tol", "0"], ["--tol", "-1e-8"], ["--max-iter", "0"]])
def test_tol_and_max_iter_are_checked(tmp_path, capsys, extra):
    code, text = _run(["weight", _sample(tmp_path), "--targets", _targets(tmp_path), "--method",
                       "rake", "--out", tmp_path / "w.csv", *extra], capsys)
    assert code == 2 and extra[0] in _one_error(text)


def test_constant_outcome_no_runtime_warning():
    df = pd.DataFrame({"y": [1.0] * 6, "g": list("aabbcc")})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        e = estimate(Sample(df), "y", by="g")
    assert e["estimate"].tolist() == [1.0, 1.0, 1.0]


def test_rows_are_numbered_from_1(tmp_path, capsys):
    p = _sample(tmp_path, w={2: "x"})
    code, text = _run(["estimate", p, "--outcome", "y", "--weight", "w", "--out",
                       tmp_path / "e.csv"], capsys)
    assert code == 2 and "row 3" in _one_error(text)


# --- properties -------------------------------------------------------------------------

CELLS = st.sampled_from(["M", "F", "a", "b", "c", "0", "1", "NA", "refused", "", "1,000",
                         "-1", "nan", "inf", "x"])
_FAST = settings(max_examples=40, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


def _digest(paths: list[Path]) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def _contract(args: list[str], inputs: list[Path], out: Path, capsys) -> None:
    before = _digest(inputs)
    code, text = _run(args, capsys)
    assert code in (0, 2, 3), text
    assert "internal error" not in text and "Traceback" not in text, text
    if code != 0:
        assert not out.exists(), text
    assert _digest(inputs) == before


@_FAST
@given(rows=st.lists(st.tuples(CELLS, CELLS, CELLS, CELLS), min_size=0, max_size=12),
       header=st.sampled_from([("sex", "age", "y", "w"), ("sex", "sex", "y", "w"),
                               ("sex", "age", "y", "y")]),
       by=st.sampled_from([None, "sex", "age"]))
def test_property_estimate_on_malformed_tables(tmp_path_factory, capsys, rows, header, by):
    d = tmp_path_factory.mktemp("p")
    p = d / "in.csv"
    p.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows))
    out = d / "e.csv"
    args = ["estimate", p, "--outcome", "y", "--weight", "w", "--out", out]
    _contract(args + (["--by", by] if by else []), [p], out, capsys)


@_FAST
@given(levels=st.lists(st.tuples(st.sampled_from(["sex", "age", "nope", ""]), CELLS,
                                 st.sampled_from(["0.5", "0.3", "-1", "", "x", "1e9", "0"])),
                       min_size=0, max_size=6),
       method=st.sampled_from(["rake", "poststratify", "calibrate"]),
       col=st.sampled_from(["share", "total"]))
def test_property_weight_with_malformed_targets(tmp_path_factory, capsys, levels, method, col):
    d = tmp_path_factory.mktemp("t")
    sample = _sample(d)
    t = d / "t.csv"
    t.write_text(f"variable,level,{col}\n" + "".join(",".join(r) + "\n" for r in levels))
    out = d / "w.csv"
    _contract(["weight", sample, "--targets", t, "--method", method, "--out", out],
              [sample, t], out, capsys)


@settings(_FAST, max_examples=25)
@given(values=st.lists(st.sampled_from(["0.5", "55", "1.5", "-0.1", "0,5", "", "nan", "x"]),
                       min_size=1, max_size=51),
       draws=st.sampled_from(["1", "50", "0", "-5", "2e9"]))
def test_property_forecast_on_malformed_estimates(tmp_path_factory, capsys, values, draws):
    d = tmp_path_factory.mktemp("f")
    p = d / "e.csv"
    n = len(values)
    pd.DataFrame({"state": list(STATES)[:n], "estimate": values, "se": "0.01"}).to_csv(
        p, index=False)
    out = d / "f.json"
    _contract(["forecast", p, "--year", "2024", "--draws", draws, "--fill-missing",
               "previous", "--out", out], [p], out, capsys)
    if out.exists():
        assert json.loads(out.read_text())["year"] == 2024
