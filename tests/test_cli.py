"""The ``calib`` command line: conventions (exit codes, one-line errors, no overwrite, light
imports) and the commands' numbers against R survey on R's own ``api`` data."""

import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from rsurvey import run_r

from calib.cli.main import main

HEAVY = ("pymc", "cvxpy", "pytensor", "matplotlib")

R_SCRIPT = r"""
data(api)
s <- apistrat[, c("snum", "stype", "sch.wide", "awards", "pw", "api00", "both")]
d <- svydesign(id=~1, strata=~stype, weights=~pw, data=s)
pt <- as.data.frame(xtabs(~stype, apipop)); ps <- as.data.frame(xtabs(~sch.wide, apipop))
pa <- as.data.frame(xtabs(~awards, apipop))
rk <- rake(d, list(~stype, ~sch.wide, ~awards), list(pt, ps, pa),
  control=list(maxit=1000, epsilon=1e-13))
tot <- c(`(Intercept)`=sum(pt$Freq), stypeH=pt$Freq[pt$stype=="H"],
  stypeM=pt$Freq[pt$stype=="M"], sch.wideYes=ps$Freq[ps$sch.wide=="Yes"])
lg <- calibrate(d, ~stype+sch.wide, tot, calfun="logit", bounds=c(0.8, 1.3), maxit=200,
  epsilon=1e-12)
lin <- calibrate(d, ~stype+sch.wide, tot, calfun="linear")
pst <- postStratify(d, ~stype, pt)
m <- svymean(~api00, d); mr <- svymean(~api00, rk)
b <- svyby(~api00, ~awards, d, svymean)
write.csv(data.frame(s, raked=weights(rk), logit=weights(lg), linear=weights(lin),
  post=weights(pst)), "out_api.csv", row.names=FALSE)
write.csv(rbind(data.frame(variable="stype", level=pt$stype, total=pt$Freq),
  data.frame(variable="sch.wide", level=ps$sch.wide, total=ps$Freq),
  data.frame(variable="awards", level=pa$awards, total=pa$Freq)), "out_targets.csv",
  row.names=FALSE)
write.csv(data.frame(what=c("design", "raked", "byNo", "byYes"),
  est=c(coef(m), coef(mr), coef(b)), se=c(SE(m), SE(mr), SE(b))), "out_means.csv",
  row.names=FALSE)
"""


@pytest.fixture(scope="module")
def r_api():
    return run_r(R_SCRIPT)


@pytest.fixture()
def api_files(r_api, tmp_path):
    cols = ["snum", "stype", "sch.wide", "awards", "pw", "api00", "both"]
    r_api["api"][cols].to_csv(tmp_path / "api.csv", index=False)
    r_api["targets"].to_csv(tmp_path / "targets.csv", index=False)
    t2 = r_api["targets"][r_api["targets"]["variable"] != "awards"]
    t2.to_csv(tmp_path / "targets2.csv", index=False)
    return tmp_path


def cli(*args, capsys=None):
    code = main([str(a) for a in args])
    out = capsys.readouterr() if capsys is not None else None
    return code, out


# -- numbers against R survey ---------------------------------------------------------------


def test_weight_rake_matches_r_every_row_in_order(r_api, api_files, capsys):
    d = api_files
    code, out = cli("weight", d / "api.csv", "--targets", d / "targets.csv", "--method", "rake",
                    "--tol", "1e-13", "--out", d / "w.csv", capsys=capsys)
    assert code == 0, out.err
    got = pd.read_csv(d / "w.csv")
    ref = r_api["api"]
    assert got["snum"].tolist() == ref["snum"].tolist()  # every input row, input order
    assert list(got.columns) == ["snum", "stype", "sch.wide", "awards", "pw", "api00", "both",
                                 "weight"]
    np.testing.assert_allclose(got["weight"], ref["raked"], rtol=1e-7)
    assert "Kish n_eff" in out.out and "margins" in out.out


def test_weight_base_weight_parquet_and_logit_bounds_match_r(r_api, api_files, capsys):
    d = api_files
    pd.read_csv(d / "api.csv").to_parquet(d / "api.parquet")
    code, out = cli("weight", d / "api.parquet", "--targets", d / "targets2.csv", "--method",
                    "calibrate", "--distance", "logit", "--bounds", 0.8, 1.3, "--base-weight",
                    "pw", "--tol", "1e-12", "--out", d / "w.parquet", capsys=capsys)
    assert code == 0, out.err
    got = pd.read_parquet(d / "w.parquet")
    np.testing.assert_allclose(got["weight"], r_api["api"]["logit"], rtol=1e-6)
    g = got["weight"] / got["pw"]
    assert g.min() >= 0.8 * (1 - 1e-9) and g.max() <= 1.3 * (1 + 1e-9)


def test_weight_poststratify_and_optimal_chi2_match_r(r_api, api_files, capsys):
    d = api_files
    t = pd.read_csv(d / "targets.csv")
    t[t["variable"] == "stype"].to_csv(d / "stype.csv", index=False)
    code, out = cli("weight", d / "api.csv", "--targets", d / "stype.csv", "--method",
                    "poststratify", "--base-weight", "pw", "--out", d / "p.csv", capsys=capsys)
    assert code == 0, out.err
    np.testing.assert_allclose(pd.read_csv(d / "p.csv")["weight"], r_api["api"]["post"],
                               rtol=1e-9)
    # chi-square distance without bounds = linear (GREG) calibration, solved by cvxpy here
    code, out = cli("weight", d / "api.csv", "--targets", d / "targets2.csv", "--method",
                    "optimal", "--divergence", "chi2", "--base-weight", "pw", "--out",
                    d / "o.csv", capsys=capsys)
    assert code == 0, out.err
    np.testing.assert_allclose(pd.read_csv(d / "o.csv")["weight"], r_api["api"]["linear"],
                               rtol=1e-5)


def test_weight_propensity_against_reference_microdata(tmp_path, capsys):
    rng = np.random.default_rng(7)
    n_ref, n = 3000, 2000
    ref = pd.DataFrame({"sex": rng.choice(["F", "M"], n_ref),
                        "age4": rng.choice(["18-29", "30-44", "45-64", "65+"], n_ref),
                        "w": rng.uniform(0.5, 1.5, n_ref)})
    sample = pd.DataFrame({"sex": rng.choice(["F", "M"], n, p=[0.7, 0.3]),
                           "age4": rng.choice(["18-29", "30-44", "45-64", "65+"], n,
                                              p=[0.4, 0.3, 0.2, 0.1])})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    sample.to_csv(tmp_path / "s.csv", index=False)
    code, out = cli("weight", tmp_path / "s.csv", "--method", "propensity", "--reference",
                    tmp_path / "ref.csv", "--reference-weight", "w", "--out",
                    tmp_path / "o.csv", "--json", capsys=capsys)
    assert code == 0, out.err
    res = json.loads(out.out)
    got = pd.read_csv(tmp_path / "o.csv")
    assert len(got) == n and got["weight"].notna().all()
    asmd = {r["variable"]: r for r in res["diagnostics"]["asmd"]}
    assert asmd["sex"]["after"] < 0.1 * asmd["sex"]["before"]
    # weighted share of F moves from 0.7 to the reference's weighted share
    ref_f = ref.loc[ref["sex"] == "F", "w"].sum() / ref["w"].sum()
    f = got.loc[got["sex"] == "F", "weight"].sum() / got["weight"].sum()
    assert abs(f - ref_f) < 0.01
    code, out = cli("weight", tmp_path / "s.csv", "--method", "propensity", "--out",
                    tmp_path / "o2.csv", capsys=capsys)
    assert code == 2 and "--reference" in out.err


def test_estimate_matches_r_svymean_svyby(r_api, api_files, capsys):
    d = api_files
    means = r_api["means"].set_index("what")
    code, out = cli("estimate", d / "api.csv", "--outcome", "api00", "--weight", "pw",
                    "--strata", "stype", "--out", d / "e.csv", capsys=capsys)
    assert code == 0, out.err
    e = pd.read_csv(d / "e.csv")
    assert list(e.columns) == ["outcome", "level", "by", "domain", "estimate", "se", "ci_low",
                               "ci_high", "n", "ess", "deff"]
    np.testing.assert_allclose(e[["estimate", "se"]].iloc[0], means.loc["design"], rtol=1e-7)
    z = 1.959963984540054
    np.testing.assert_allclose(e["ci_low"].iloc[0], means.at["design", "est"]
                               - z * means.at["design", "se"], rtol=1e-7)
    code, out = cli("estimate", d / "api.csv", "--outcome", "api00", "--weight", "pw",
                    "--strata", "stype", "--by", "awards", "--out", d / "b.csv", "--json",
                    capsys=capsys)
    assert code == 0, out.err
    rows = {r["domain"]: r for r in json.loads(out.out)["estimates"]}
    for dom in ("No", "Yes"):
        np.testing.assert_allclose([rows[dom]["estimate"], rows[dom]["se"]],
                                   means.loc["by" + dom], rtol=1e-7)


def test_estimate_with_raking_matches_r_calibrated_se(r_api, api_files, capsys):
    d = api_files
    means = r_api["means"].set_index("what")
    code, out = cli("estimate", d / "api.csv", "--outcome", "api00", "--targets",
                    d / "targets.csv", "--method", "rake", "--base-weight", "pw", "--tol",
                    "1e-13", "--strata", "stype", "--out", d / "e.csv", capsys=capsys)
    assert code == 0, out.err
    e = pd.read_csv(d / "e.csv")
    np.testing.assert_allclose(e["estimate"].iloc[0], means.at["raked", "est"], rtol=1e-8)
    np.testing.assert_allclose(e["se"].iloc[0], means.at["raked", "se"], rtol=1e-4)


# -- conventions ----------------------------------------------------------------------------


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert "calib 0.1.0" in capsys.readouterr().out
    for cmd in ("weight", "estimate", "targets", "demo", "hybrid"):
        assert main([cmd, "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--targets", "--method", "--distance", "--bounds", "--cap", "--divergence",
                 "--trim", "--population", "--base-weight", "--reference",
                 "--reference-weight", "--tol", "--max-iter", "--weight-column", "--out",
                 "--diagnostics-json", "--missing", "--overwrite", "--json"):
        assert flag in text


def test_import_is_light_and_help_fast():
    code = ("import sys, time; t = time.perf_counter(); import calib.cli; "
            "from calib.cli import main; main(['weight', '--help']); "
            f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules]); "
            "print('SECONDS', time.perf_counter() - t)")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stdout
    # generous: the machine is shared; the point is no PyMC/cvxpy/matplotlib at start-up
    assert wall < 30, wall


def test_overwrite_refused_then_allowed(api_files, capsys):
    d = api_files
    (d / "w.csv").write_text("keep me\n")
    args = ["weight", d / "api.csv", "--targets", d / "targets.csv", "--method", "rake",
            "--out", d / "w.csv"]
    code, out = cli(*args, capsys=capsys)
    assert code == 2
    assert (d / "w.csv").read_text() == "keep me\n"
    assert out.err.count("\n") == 1 and "--overwrite" in out.err
    code, out = cli(*args, "--overwrite", capsys=capsys)
    assert code == 0 and len(pd.read_csv(d / "w.csv")) == 200


def test_bad_input_one_line_exit_2(api_files, capsys):
    d = api_files
    t = pd.read_csv(d / "targets.csv")
    t = t[~((t["variable"] == "stype") & (t["level"] == "M"))]  # sample has M, targets don't
    t.to_csv(d / "bad.csv", index=False)
    code, out = cli("weight", d / "api.csv", "--targets", d / "bad.csv", "--method", "rake",
                    "--out", d / "w.csv", capsys=capsys)
    assert code == 2
    assert out.err.startswith("error: ") and out.err.count("\n") == 1
    assert "Traceback" not in out.err and "stype" in out.err
    assert not (d / "w.csv").exists()


@pytest.mark.parametrize("args,word", [
    (["--method", "rake", "--distance", "logit"], "--distance"),
    (["--method", "calibrate", "--cap", "3"], "--cap"),
    (["--method", "nope"], "--method"),
    (["--method", "rake", "--missing", "maybe"], "--missing"),
])
def test_flag_not_for_method_exit_2(api_files, capsys, args, word):
    d = api_files
    code, out = cli("weight", d / "api.csv", "--targets", d / "targets.csv", *args, "--out",
                    d / "w.csv", capsys=capsys)
    assert code == 2 and word in out.err and out.err.count("\n") == 1


def test_usage_error_exit_2(api_files, capsys):
    code, _ = cli("weight", api_files / "api.csv", "--no-such-flag", capsys=capsys)
    assert code == 2


def test_nonconvergence_exit_3(api_files, capsys):
    d = api_files
    code, out = cli("weight", d / "api.csv", "--targets", d / "targets.csv", "--method", "rake",
                    "--max-iter", "1", "--tol", "1e-14", "--out", d / "w.csv", capsys=capsys)
    assert code == 3 and "converge" in out.err and out.err.count("\n") == 1


def test_debug_shows_traceback(api_files):
    d = api_files
    with pytest.raises(Exception, match="--overwrite"):
        (d / "w.csv").write_text("x\n")
        main(["--debug", "weight", str(d / "api.csv"), "--targets", str(d / "targets.csv"),
              "--method", "rake", "--out", str(d / "w.csv")])


def test_missing_drop_keeps_every_row_with_empty_weight(tmp_path, capsys):
    (tmp_path / "in.csv").write_text("id,sex,educ\n1,F,01\n2,M,02\n3,,01\n4,M,01\n5,F,02\n")
    (tmp_path / "t.csv").write_text("variable,level,share\nsex,F,0.5\nsex,M,0.5\n"
                                    "educ,01,0.5\neduc,02,0.5\n")
    args = ["weight", tmp_path / "in.csv", "--targets", tmp_path / "t.csv", "--method", "rake"]
    code, out = cli(*args, "--out", tmp_path / "a.csv", capsys=capsys)
    assert code == 2 and "sex" in out.err
    code, out = cli(*args, "--missing", "drop", "--out", tmp_path / "o.csv",
                    "--diagnostics-json", tmp_path / "d.json", capsys=capsys)
    assert code == 0, out.err
    got = pd.read_csv(tmp_path / "o.csv", dtype={"educ": str})
    assert got["id"].tolist() == [1, 2, 3, 4, 5] and got["educ"].tolist()[0] == "01"
    assert np.isnan(got["weight"].iloc[2])
    w = got["weight"].drop(index=2)
    # 4 complete rows F/01, M/02, M/01, F/02: already balanced, so every weight is 1
    np.testing.assert_allclose(w, 1.0, rtol=1e-9)
    assert "1 rows" in out.out
    diag = json.loads((tmp_path / "d.json").read_text())
    assert diag["dropped_rows"] == 1 and diag["rows"] == 5


def test_trim_caps_at_multiple_of_mean(api_files, capsys):
    d = api_files
    code, out = cli("weight", d / "api.csv", "--targets", d / "targets.csv", "--method", "rake",
                    "--base-weight", "pw", "--trim", "1.05", "--out", d / "t.csv", "--json",
                    capsys=capsys)
    assert code == 0, out.err
    w = pd.read_csv(d / "t.csv")["weight"]
    assert w.max() <= 1.05 * w.mean() * (1 + 1e-9)
    assert np.isclose(w.sum(), 6194)  # the population total of apipop is kept
    assert [s["method"] for s in json.loads(out.out)["steps"]] == ["rake", "trim"]


def test_targets_list_show_export_and_use(tmp_path, capsys):
    code, out = cli("targets", "list", "--json", capsys=capsys)
    names = [r["name"] for r in json.loads(out.out)]
    assert code == 0 and names == ["cvap-national", "cvap-state", "acs2023-national",
                                   "acs2023-state"]
    code, out = cli("targets", "show", "cvap-national", "--variables", "sex", capsys=capsys)
    assert code == 0 and "Female" in out.out
    code, out = cli("targets", "export", "cvap-national", "--variables", "sex,age6",
                    "--out", tmp_path / "t.csv", capsys=capsys)
    assert code == 0
    t = pd.read_csv(tmp_path / "t.csv")
    assert set(t["variable"]) == {"sex", "age6"}
    # each margin adds up to the same population (citizens 18+)
    sums = t.groupby("variable")["total"].sum()
    assert sums.nunique() == 1 and 2.2e8 < sums.iloc[0] < 2.4e8
    code, out = cli("targets", "export", "cvap-national", "--out", tmp_path / "t.csv",
                    capsys=capsys)
    assert code == 2
    code, out = cli("targets", "show", "nope", capsys=capsys)
    assert code == 2 and "cvap-national" in out.err
    # the exported file drives calib weight
    frame = pd.DataFrame({"sex": ["Female", "Male", "Male"],
                          "age6": ["18-29", "30-39", "70+"]})
    frame.to_csv(tmp_path / "p.csv", index=False)
    code, out = cli("targets", "export", "cvap-national", "--variables", "sex",
                    "--out", tmp_path / "s.csv", capsys=capsys)
    code, out = cli("weight", tmp_path / "p.csv", "--targets", tmp_path / "s.csv", "--method",
                    "rake", "--out", tmp_path / "o.csv", capsys=capsys)
    assert code == 0, out.err
    w = pd.read_csv(tmp_path / "o.csv")["weight"]
    female = t[(t["variable"] == "sex") & (t["level"] == "Female")]["total"].iloc[0]
    np.testing.assert_allclose(w.iloc[0], female, rtol=1e-9)


@pytest.mark.parametrize("variance,extra,tol", [
    ("jackknife", [], 0.10),
    ("bootstrap", ["--replicates", "400", "--seed", "3"], 0.20),
])
def test_estimate_replicate_se_close_to_r_linearized(r_api, api_files, capsys, variance, extra,
                                                     tol):
    # recalibrated replicates of the raked mean agree with R's linearized SE (to MC error)
    d = api_files
    means = r_api["means"].set_index("what")
    args = ["estimate", d / "api.csv", "--outcome", "api00", "--targets", d / "targets.csv",
            "--method", "rake", "--base-weight", "pw", "--strata", "stype", "--variance",
            variance, *extra, "--out", d / f"{variance}.csv"]
    code, out = cli(*args, capsys=capsys)
    assert code == 0, out.err
    e = pd.read_csv(d / f"{variance}.csv")
    np.testing.assert_allclose(e["estimate"].iloc[0], means.at["raked", "est"], rtol=1e-8)
    assert abs(e["se"].iloc[0] / means.at["raked", "se"] - 1) < tol
    if variance == "bootstrap":  # the seed makes it reproducible
        code, out = cli(*args[:-1], d / "again.csv", capsys=capsys)
        assert pd.read_csv(d / "again.csv")["se"].iloc[0] == e["se"].iloc[0]


def test_weight_run_returns_the_json_summary_in_memory_too(tmp_path):
    # one return type: run() gives the --json summary on both paths (was the frame in memory)
    from calib.cli.commands._weighting import WeightingOptions
    from calib.cli.commands.weight import run

    pd.DataFrame({"sex": ["F", "M", "M"]}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"variable": "sex", "level": ["F", "M"], "total": [2.0, 1.0]}).to_csv(
        tmp_path / "t.csv", index=False)
    got = run(tmp_path / "s.csv", WeightingOptions(targets=tmp_path / "t.csv", method="rake"),
              out=tmp_path / "o.csv")
    assert isinstance(got, dict) and got["weighted_rows"] == 3
    assert got["total_weight"] == pytest.approx(3.0)
