"""``--codebook`` on every command that reads personas (weight, estimate, mrp, hybrid, compare)
and ``calib recode``: raw persona files (the Tianyi-Lab attribute spellings) are used directly.

Each test writes a raw file whose attributes are spelled as LLM personas spell them ("32",
"female", "Hispanic or Latino", "Texas") and checks properties that do not depend on calib's
own numbers: weighted margins equal the targets, a command on the raw file with --codebook
gives the same table as on a file recoded beforehand, and unmapped values fail with the value
named."""

import numpy as np
import pandas as pd
import pytest

from calib.cli.main import main

RACES = ["White", "Black", "Hispanic or Latino", "Asian"]
STATES = {"TX": "Texas", "OH": "Ohio", "GA": "Georgia", "AZ": "AZ"}


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


def raw_personas(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    sex = rng.choice(["Male", "female", "F", "MALE"], n, p=[0.2, 0.4, 0.2, 0.2])
    race = rng.choice(RACES, n)
    state = rng.choice(list(STATES.values()), n)
    # persona answers: more Democratic for young and female personas
    p = 0.35 + 0.2 * (age < 45) + 0.15 * np.isin(sex, ["female", "F"])
    vote = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"AGE": age.astype(str), "SEX": sex, "RACE": race, "STATE": state,
                         "vote": vote})


@pytest.fixture()
def files(tmp_path):
    raw = raw_personas(600, 1)
    raw.to_csv(tmp_path / "raw.csv", index=False)
    pd.DataFrame({"variable": ["sex", "sex", "age4", "age4", "age4", "age4"],
                  "level": ["Female", "Male", "18-29", "30-44", "45-64", "65+"],
                  "share": [0.52, 0.48, 0.2, 0.25, 0.33, 0.22]}).to_csv(
        tmp_path / "targets.csv", index=False)
    return tmp_path


def test_weight_with_codebook_meets_targets_and_keeps_raw_columns(files, capsys):
    code, out = cli(capsys, "weight", files / "raw.csv", "--codebook", "personas", "--targets",
                    files / "targets.csv", "--method", "rake", "--out", files / "w.csv")
    assert code == 0, out.err
    assert "codebook 'personas' (INPUT): 600 rows recoded" in out.out
    w = pd.read_csv(files / "w.csv")
    assert {"AGE", "SEX", "sex", "age4", "race4", "state", "weight"} <= set(w.columns)
    share = w.groupby("sex")["weight"].sum() / w["weight"].sum()
    assert share["Female"] == pytest.approx(0.52, abs=1e-6)
    age = w.groupby("age4")["weight"].sum() / w["weight"].sum()
    assert age["65+"] == pytest.approx(0.22, abs=1e-6)
    # the raw spellings reached the harmonized levels
    assert set(w.loc[w["SEX"] == "F", "sex"]) == {"Female"}
    assert set(w.loc[w["STATE"] == "Texas", "state"]) == {"TX"}


def test_codebook_json_keeps_stdout_machine_readable(files, capsys):
    import json

    code, out = cli(capsys, "weight", files / "raw.csv", "--codebook", "personas", "--targets",
                    files / "targets.csv", "--method", "rake", "--out", files / "w.csv", "--json")
    assert code == 0
    json.loads(out.out)
    assert "rows recoded" in out.err


def test_estimate_with_codebook_equals_estimate_on_recoded_file(files, capsys):
    code, _ = cli(capsys, "recode", files / "raw.csv", "--codebook", "personas", "--out",
                  files / "rec.parquet", "--report", files / "report.csv")
    assert code == 0
    rep = pd.read_csv(files / "report.csv")
    assert {"target", "source", "value", "level", "rows"} <= set(rep.columns)
    a = ("--outcome", "vote", "--by", "age4", "--targets", files / "targets.csv", "--method",
         "rake")
    code, out = cli(capsys, "estimate", files / "raw.csv", "--codebook", "personas", *a,
                    "--out", files / "e1.csv")
    assert code == 0, out.err
    code, out = cli(capsys, "estimate", files / "rec.parquet", *a, "--out", files / "e2.csv")
    assert code == 0, out.err
    e1, e2 = pd.read_csv(files / "e1.csv"), pd.read_csv(files / "e2.csv")
    assert len(e1) == 4
    pd.testing.assert_frame_equal(e1, e2)


def test_unmapped_value_is_named_with_its_count(files, capsys):
    raw = pd.read_csv(files / "raw.csv", dtype=str)
    raw.loc[:2, "SEX"] = "Nonbinary"
    raw.to_csv(files / "bad.csv", index=False)
    code, out = cli(capsys, "weight", files / "bad.csv", "--codebook", "personas", "--targets",
                    files / "targets.csv", "--method", "rake", "--out", files / "w.csv")
    assert code == 2
    assert "Nonbinary" in out.err and "3" in out.err
    assert not (files / "w.csv").exists()


def test_codebook_refuses_out_of_core_engine_naming_recode(files, capsys):
    code, out = cli(capsys, "weight", files / "raw.csv", "--codebook", "personas", "--targets",
                    files / "targets.csv", "--method", "rake", "--engine", "duckdb", "--out",
                    files / "w.parquet")
    assert code == 2
    assert "calib recode" in out.err


def test_missing_codebook_file_is_a_clear_error(files, capsys):
    code, out = cli(capsys, "estimate", files / "raw.csv", "--codebook", files / "nope.toml",
                    "--outcome", "vote", "--weight", "w", "--out", files / "e.csv")
    assert code == 2
    assert "nope.toml" in out.err and "file not found" in out.err


def test_hybrid_with_codebooks_equals_hybrid_on_recoded_files(files, capsys):
    human = raw_personas(300, 2)
    human["truth"] = np.where(np.random.default_rng(3).random(300) < 0.1, 1 - human["vote"],
                              human["vote"])
    human.to_csv(files / "human_raw.csv", index=False)
    code, _ = cli(capsys, "recode", files / "human_raw.csv", "--codebook", "personas", "--out",
                  files / "human.parquet")
    assert code == 0
    cli(capsys, "recode", files / "raw.csv", "--codebook", "personas", "--out",
        files / "rec.parquet")
    common = ("--outcome", "vote", "--human-outcome", "truth", "--method", "ppi")
    code, out = cli(capsys, "hybrid", files / "raw.csv", "--human", files / "human_raw.csv",
                    "--codebook", "personas", "--human-codebook", "personas", *common,
                    "--out", files / "h1.csv")
    assert code == 0, out.err
    code, out = cli(capsys, "hybrid", files / "rec.parquet", "--human", files / "human.parquet",
                    *common, "--out", files / "h2.csv")
    assert code == 0, out.err
    h1, h2 = pd.read_csv(files / "h1.csv"), pd.read_csv(files / "h2.csv")
    assert "n_effective_human" in h1.columns
    pd.testing.assert_frame_equal(h1, h2)


def test_mrp_with_codebook_reads_raw_personas(files, capsys):
    frame = pd.DataFrame([(s, a, x, 1000 + 10 * i)
                          for i, (s, a, x) in enumerate(
                              (s, a, x) for s in ["Female", "Male"]
                              for a in ["18-29", "30-44", "45-64", "65+"] for x in ["TX", "OH"])],
                         columns=["sex", "age4", "state", "n"])
    frame.to_csv(files / "frame.csv", index=False)
    code, out = cli(capsys, "mrp", files / "raw.csv", "--codebook", "personas", "--outcome",
                    "vote", "--frame", files / "frame.csv", "--frame-count", "n", "--group", "sex",
                    "--group", "age4", "--by", "state", "--draws", "500", "--tune", "500",
                    "--chains", "2", "--seed", "1", "--out", files / "m.csv")
    assert code == 0, out.err
    m = pd.read_csv(files / "m.csv")
    assert sorted(m["domain"]) == ["OH", "TX", "Total"]
    # the young and female personas lean to 1: every estimate sits between the extremes
    assert ((m["estimate"] > 0.3) & (m["estimate"] < 0.8)).all()


def test_estimate_writes_replicate_weights_that_reproduce_its_se(files, capsys):
    import json

    a = ("--outcome", "vote", "--targets", files / "targets.csv", "--method", "rake",
         "--codebook", "personas", "--variance", "bootstrap", "--replicates", "40", "--seed", "3")
    code, out = cli(capsys, "estimate", files / "raw.csv", *a, "--out", files / "e.csv",
                    "--replicates-out", files / "rw.parquet")
    assert code == 0, out.err
    hand = pd.read_parquet(files / "rw.parquet")
    # the R hand-off layout: id, full-sample weight, the outcome, then the replicates
    assert hand.columns[:3].tolist() == ["id", "weight", "vote"]
    rw = hand.filter(regex=r"^rep_\d+$")
    meta = json.loads((files / "rw.parquet.json").read_text())
    assert rw.shape == (600, 40) and meta["attrs"]["type"] == "bootstrap"
    y = pd.read_csv(files / "raw.csv")["vote"].to_numpy()
    th = (rw.to_numpy() * y[:, None]).sum(0) / rw.to_numpy().sum(0)
    se = np.sqrt(((th - th.mean()) ** 2).sum() / (len(th) - 1))
    assert pd.read_csv(files / "e.csv")["se"].iloc[0] == pytest.approx(se, rel=1e-9)
    code, out = cli(capsys, "estimate", files / "raw.csv", *a, "--out", files / "e2.csv",
                    "--replicates-out", files / "rw.parquet")
    assert code == 2 and "already exists" in out.err and not (files / "e2.csv").exists()
