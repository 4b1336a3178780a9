"""``calib estimate --replicates-out``: the R hand-off. The CSV (or Parquet) holds id, weight,
the data columns and the replicate weights; ``<path>.R`` (base R + survey) rebuilds the
replicate design and gives calib's estimates and SEs (compared here to 1e-8 with Rscript)."""

import subprocess

import numpy as np
import pandas as pd
import pytest
from rsurvey import rscript

from calib.cli.main import main


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


@pytest.fixture()
def sample_csv(tmp_path):
    rng = np.random.default_rng(4)
    n = 240
    stratum = rng.choice(["n", "s"], n)
    psu = np.char.add(stratum, rng.integers(0, 6, n).astype(str))
    y = rng.normal(50, 10, n).round(3)
    y[5] = np.nan  # a missing outcome: dropped by calib and by R's na.rm
    f = pd.DataFrame({"key": [f"k{i}" for i in range(n)], "stratum": stratum, "psu": psu,
                      "region": rng.choice(["east", "west", "mid"], n),
                      "party": rng.choice(["dem", "rep", "ind"], n), "y": y,
                      "w": rng.uniform(0.5, 3.0, n).round(4)})
    f.to_csv(tmp_path / "s.csv", index=False)
    return tmp_path / "s.csv"


def _run_r(script, out):
    proc = subprocess.run([rscript(), "--vanilla", str(script), str(out)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.r
@pytest.mark.parametrize(("outcome", "by", "variance", "design"), [
    ("y", None, "jackknife", ()),
    ("y", "region", "jackknife", ("--strata", "stratum", "--cluster", "psu")),
    ("party", "region", "bootstrap", ("--cluster", "psu")),
    ("party", None, "canty-davison", ()),
])
def test_r_script_gives_calibs_estimates_and_ses(capsys, tmp_path, sample_csv, outcome, by,
                                                 variance, design):
    by_args = ("--by", by) if by else ()
    code, out = cli(capsys, "estimate", sample_csv, "--outcome", outcome, *by_args,
                    "--weight", "w", *design, "--variance", variance, "--replicates", "30",
                    "--seed", "2", "--out", tmp_path / "e.csv",
                    "--replicates-out", tmp_path / "reps.csv", "--id", "key")
    assert code == 0, out.err
    reps = pd.read_csv(tmp_path / "reps.csv")
    data = [c for c in (outcome, by, *design[1::2]) if c]
    assert reps.columns[:2 + len(data)].tolist() == ["id", "weight", *data]
    assert reps["id"].iloc[0] == "k0" and all(c.startswith("rep_") for c in reps.columns[2 + len(data):])
    script = (tmp_path / "reps.csv.R").read_text()
    assert "library(survey)" in script and "arrow" not in script and "jsonlite" not in script
    stdout = _run_r(tmp_path / "reps.csv.R", tmp_path / "r.csv")
    assert "estimate" in stdout
    mine = pd.read_csv(tmp_path / "e.csv", keep_default_na=False)
    r = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    key = ["level", "domain"]
    both = mine.merge(r, on=key, suffixes=("", "_r"), validate="1:1")
    assert len(both) == len(mine) == len(r)
    np.testing.assert_allclose(both["estimate_r"], both["estimate"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(both["se_r"], both["se"], rtol=0, atol=1e-8)


def test_replicates_out_row_number_id_and_parquet(capsys, tmp_path, sample_csv):
    code, out = cli(capsys, "estimate", sample_csv, "--outcome", "y", "--weight", "w",
                    "--variance", "jackknife", "--out", tmp_path / "e.csv",
                    "--replicates-out", tmp_path / "reps.parquet")
    assert code == 0, out.err
    reps = pd.read_parquet(tmp_path / "reps.parquet")
    assert reps["id"].tolist() == list(range(1, 241))
    np.testing.assert_array_equal(reps["weight"], pd.read_csv(sample_csv)["w"])
    script = (tmp_path / "reps.parquet.R").read_text()
    assert "arrow::read_parquet" in script and "as .csv" in script
    assert (tmp_path / "reps.parquet.json").exists()


def test_id_without_replicates_out_and_unknown_id_refused(capsys, tmp_path, sample_csv):
    base = ("estimate", sample_csv, "--outcome", "y", "--weight", "w", "--variance", "jackknife",
            "--out", tmp_path / "e.csv")
    code, out = cli(capsys, *base, "--id", "key")
    assert code == 2 and "--replicates-out" in out.err
    code, out = cli(capsys, *base, "--replicates-out", tmp_path / "r.csv", "--id", "nope")
    assert code == 2 and "--id 'nope'" in out.err


def test_replicates_out_refused_out_of_core(capsys, tmp_path, sample_csv):
    code, out = cli(capsys, "estimate", sample_csv, "--outcome", "y", "--weight", "w",
                    "--variance", "jackknife", "--out", tmp_path / "e.csv", "--engine", "duckdb",
                    "--replicates-out", tmp_path / "r.csv")
    assert code == 2 and "--engine memory" in out.err and not (tmp_path / "e.csv").exists()
