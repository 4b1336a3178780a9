"""Out-of-core engines: DuckDB / Dask cells and write-back equal the in-memory path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calib import DataError, Sample, Targets
from calib.core.cells import collapse, encode
from calib.outofcore import choose_engine, weight_files
from calib.outofcore.dask_cells import dask_cells
from calib.outofcore.duckdb_cells import duckdb_cells
from calib.outofcore.filesample import FileSample

N_PER_FILE = 60_000
N_FILES = 3


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    sex = rng.choice(["Female", "Male"], n, p=[0.45, 0.55])
    age = rng.choice(["18-29", "30-44", "45-64", "65+"], n, p=[0.3, 0.3, 0.25, 0.15])
    region = rng.choice([1, 2, 3, 4], n)  # integer column: levels "1".."4"
    educ = rng.choice(["HS", "College", "Post-grad"], n, p=[0.2, 0.5, 0.3])
    w = rng.uniform(0.5, 2.0, n)
    y = (rng.random(n) < 0.3 + 0.2 * (sex == "Male") + 0.1 * (age == "65+")).astype(float)
    return pd.DataFrame({"sex": sex, "age": age, "region": region, "educ": educ, "w": w,
                         "y": y, "id": np.arange(n)})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("engines")
    rng = np.random.default_rng(20261125)
    frames = []
    for k in range(N_FILES):
        f = _frame(rng, N_PER_FILE)
        f["id"] += k * N_PER_FILE
        f.to_parquet(d / f"part{k}.parquet", index=False)
        frames.append(f)
    return d, pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def missing_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("engines_missing")
    rng = np.random.default_rng(7)
    frames = []
    for k in range(2):
        f = _frame(rng, 20_000)
        f["sex"] = f["sex"].astype(object)
        f.loc[rng.random(len(f)) < 0.01, "sex"] = None
        f.loc[rng.random(len(f)) < 0.005, "sex"] = "Refused"
        f["region"] = f["region"].astype(float)
        f.loc[rng.random(len(f)) < 0.01, "region"] = np.nan
        f.to_parquet(d / f"m{k}.parquet", index=False)
        frames.append(pd.read_parquet(d / f"m{k}.parquet"))
    return d, pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def _targets(population: float, drop: tuple[str, str] | None = None) -> Targets:
    rows = [("sex", "Female", 0.51), ("sex", "Male", 0.49),
            ("age", "18-29", 0.2), ("age", "30-44", 0.25), ("age", "45-64", 0.33),
            ("age", "65+", 0.22),
            ("region", "1", 0.18), ("region", "2", 0.21), ("region", "3", 0.38),
            ("region", "4", 0.23)]
    if drop is not None:  # give the dropped level's share to the level before it
        i = [r[:2] for r in rows].index(drop)
        rows[i - 1] = (*rows[i - 1][:2], rows[i - 1][2] + rows[i][2])
        del rows[i]
    rows = [(v, lv, sh * population) for v, lv, sh in rows]
    return Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]))


def _same_cells(a, b) -> None:
    assert a.variables == b.variables
    assert dict(a.levels) == dict(b.levels)
    np.testing.assert_array_equal(a.keys, b.keys)
    np.testing.assert_array_equal(a.count, b.count)
    np.testing.assert_allclose(a.weight, b.weight, rtol=1e-12)


VARS = ["sex", "age", "region", "educ"]


def test_duckdb_and_dask_cells_equal_memory(files, client):
    d, frame = files
    enc = encode(frame, VARS)
    mem, _ = collapse(enc, frame["w"].to_numpy())
    db, _ = duckdb_cells(str(d / "*.parquet"), VARS, base_weight="w")
    _same_cells(db, mem)
    # explicit list of paths (several files) through Dask on a 2-worker LocalCluster
    paths = [d / f"part{k}.parquet" for k in range(N_FILES)]
    dk, _ = dask_cells(paths, VARS, base_weight="w", client=client)
    _same_cells(dk, mem)
    # target levels fix the level lists (a level absent from the data stays a level)
    lv = {"sex": ("Male", "Female", "Other"), "region": ("4", "3", "2", "1")}
    mem2, _ = collapse(encode(frame, ["sex", "region"], levels=lv), frame["w"].to_numpy())
    db2, _ = duckdb_cells(d, ["sex", "region"], levels=lv, base_weight="w")
    _same_cells(db2, mem2)


@pytest.mark.parametrize("missing", ["drop", "level"])
def test_missing_values_counted_like_memory(missing_files, missing, client):
    d, frame = missing_files
    enc = encode(frame, ["sex", "region", "age"], missing=missing)
    mem, _ = collapse(enc, frame["w"].to_numpy()[enc.keep])
    for build, kw in ((duckdb_cells, {}), (dask_cells, {"client": client})):
        cells, combos = build(d, ["sex", "region", "age"], missing=missing, base_weight="w", **kw)
        _same_cells(cells, mem)
        assert dict(combos.dropped) == dict(enc.dropped)
    if missing == "drop":
        assert enc.dropped["sex"] == int(frame["sex"].isna().sum() + (frame["sex"] == "Refused")
                                         .sum())


def test_missing_error_names_counts(missing_files):
    d, frame = missing_files
    n_region = int(frame["region"].isna().sum())
    with pytest.raises(DataError, match=rf"'region': {n_region} rows"):
        duckdb_cells(d, ["sex", "region"])


def test_value_outside_targets_is_an_error(files):
    d, frame = files
    t = _targets(1e6, drop=("region", "4"))
    n4 = int((frame["region"] == 4).sum())
    with pytest.raises(DataError, match=rf"'4' \({n4} rows\)"):
        FileSample.from_files(d, weight="w").rake(t)


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_raked_weights_written_back_equal_memory(files, tmp_path, engine, client):
    d, frame = files
    t = _targets(2e6)
    mem = Sample(frame, weight="w").rake(t).weights.to_numpy()
    out = tmp_path / "raked.parquet"
    r = weight_files(str(d / "part*.parquet"), t, "rake", out=out, engine=engine,
                     base_weight="w", scheduler=client if engine == "dask" else None)
    got = pd.read_parquet(r.out)
    assert r.rows == len(frame) and r.choice.engine == engine
    np.testing.assert_array_equal(got["id"].to_numpy(), frame["id"].to_numpy())  # input order
    np.testing.assert_allclose(got["weight"].to_numpy(), mem, rtol=1e-12, atol=0)
    assert list(got.columns) == list(frame.columns) + ["weight"]


def test_poststratify_and_calibrate_written_back_equal_memory(files, tmp_path):
    d, frame = files
    s = Sample(frame, weight="w")
    joint = frame.groupby(["sex", "age"]).size().reset_index()
    rng = np.random.default_rng(3)
    joint = pd.DataFrame({"variable": "sex:age", "level": joint["sex"] + ":" + joint["age"],
                          "total": rng.uniform(1e4, 5e4, len(joint))})
    tp = Targets.from_frame(joint)
    mem = s.poststratify(tp).weights.to_numpy()
    r = weight_files(d, tp, "poststratify", out=tmp_path / "ps.parquet", engine="duckdb",
                     base_weight="w")
    np.testing.assert_allclose(pd.read_parquet(r.out)["weight"], mem, rtol=1e-12, atol=0)
    t = _targets(2e6)
    mem = s.calibrate(t, distance="raking").weights.to_numpy()
    r = weight_files(d, t, "calibrate", out=tmp_path / "cal.parquet", engine="duckdb",
                     base_weight="w", distance="raking")
    np.testing.assert_allclose(pd.read_parquet(r.out)["weight"], mem, rtol=1e-12, atol=0)


def test_missing_drop_written_back(missing_files, tmp_path):
    d, frame = missing_files
    t = _targets(1e5)
    mem = Sample(frame, weight="w").rake(t, missing="drop")
    r = weight_files(d, t, out=tmp_path / "o.parquet", engine="duckdb", base_weight="w",
                     missing="drop")
    got = pd.read_parquet(r.out)
    assert r.dropped == len(frame) - mem.n and r.rows == mem.n
    np.testing.assert_array_equal(got["id"].to_numpy(), mem.frame["id"].to_numpy())
    np.testing.assert_allclose(got["weight"].to_numpy(), mem.weights.to_numpy(), rtol=1e-12)


def test_output_not_overwritten(files, tmp_path):
    d, _ = files
    out = tmp_path / "exists.parquet"
    out.write_bytes(b"keep me")
    with pytest.raises(DataError, match="exists; pass overwrite=True"):
        weight_files(d, _targets(1e6), out=out, engine="duckdb", base_weight="w")
    assert out.read_bytes() == b"keep me"
    weight_files(d, _targets(1e6), out=out, engine="duckdb", base_weight="w", overwrite=True)
    assert len(pd.read_parquet(out)) == N_PER_FILE * N_FILES


def test_client_is_passed_as_scheduler(files, tmp_path):
    # weight_files(client=) was merged into scheduler= (an address or a distributed.Client)
    d, _ = files
    with pytest.raises(TypeError, match="as scheduler="):
        weight_files(d, _targets(1e6), out=tmp_path / "c.parquet", engine="duckdb",
                     client=object())


def test_engine_choice(files):
    d, _ = files
    assert choose_engine(d).engine == "memory"
    assert choose_engine(d, fraction=1e-12).engine == "duckdb"
    with pytest.raises(DataError, match="engine='spark'"):
        choose_engine(d, "spark")


def _row_level_se(frame, w, d, X_rows, y, dom_mask):
    """Direct row-level GREG linearization (R svyrecvar stage-0 calibration, ids=~1)."""
    N = w[dom_mask].sum()
    ybar = (w * y)[dom_mask].sum() / N
    z = np.where(dom_mask, (y - ybar) / N, 0.0)
    sd = np.sqrt(d)
    B = np.linalg.lstsq(X_rows * sd[:, None], z * sd, rcond=None)[0]
    u = w * (z - X_rows @ B)
    n = len(u)
    return ybar, np.sqrt(n / (n - 1) * ((u - u.mean()) ** 2).sum())


def test_domain_se_from_cell_sums_equals_row_level(files):
    d, frame = files
    t = _targets(2e6)
    fs = FileSample.from_files(d, weight="w").calibrate(t, distance="raking")
    mem = Sample(frame, weight="w").calibrate(t, distance="raking")
    cal = mem.history[-1].calibration
    X_rows = cal.X[cal.row_cell]
    w = mem.weights.to_numpy()
    base = frame["w"].to_numpy()
    y = frame["y"].to_numpy()
    est = fs.estimate("y", by="educ").set_index("educ")
    for lab in ("College", "HS", "Post-grad"):
        ybar, se = _row_level_se(frame, w, base, X_rows, y, (frame["educ"] == lab).to_numpy())
        assert est.loc[lab, "estimate"] == pytest.approx(ybar, rel=1e-10)
        assert est.loc[lab, "se"] == pytest.approx(se, rel=1e-8)
    # domain = a weighting variable; and the overall mean
    est = fs.estimate("y", by="sex").set_index("sex")
    ybar, se = _row_level_se(frame, w, base, X_rows, y, (frame["sex"] == "Male").to_numpy())
    assert est.loc["Male", "se"] == pytest.approx(se, rel=1e-8)
    tot = fs.estimate("y")
    ybar, se = _row_level_se(frame, w, base, X_rows, y, np.ones(len(frame), bool))
    assert tot["se"].iloc[0] == pytest.approx(se, rel=1e-8)


@pytest.mark.parametrize("method", ["rake", "poststratify"])
def test_domain_se_equals_in_memory_estimation(files, method):
    """Same SEs as calib.estimation (R rake's residual sweeps; R postStratify's GREG)."""
    d, frame = files
    if method == "rake":
        t = _targets(2e6)
    else:
        cells = frame.groupby(["sex", "region"]).size()
        t = Targets.from_frame(pd.DataFrame({
            "variable": "sex:region",
            "level": [f"{a}:{b}" for a, b in cells.index],
            "total": np.linspace(1e5, 3e5, len(cells))}))
    fs = FileSample.from_files(d, weight="w").weight(method, t)
    mem = Sample(frame, weight="w").weight(method, t)
    for by in ("educ", "age", None):
        got = fs.estimate("y", by=by)
        want = mem.estimate("y", by=by)
        np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-10)
        np.testing.assert_allclose(got["se"], want["se"], rtol=1e-8)
        np.testing.assert_array_equal(got["n"], want["n"])


def test_domain_se_matches_r_survey(tmp_path):
    from rsurvey import run_r

    rng = np.random.default_rng(11)
    f = _frame(rng, 3000)
    f.to_parquet(tmp_path / "r.parquet", index=False)
    t = _targets(1e5)
    fs = FileSample.from_files(tmp_path / "r.parquet", weight="w").calibrate(
        t, distance="raking")
    est = fs.estimate("y", by="educ").set_index("educ")
    pop = t.resolve(1e5).to_frame()
    script = """
    d <- read.csv("d.csv", stringsAsFactors = TRUE)
    d$region <- factor(d$region)
    des <- svydesign(ids = ~1, weights = ~w, data = d)
    pop <- c(`(Intercept)` = 1e5, sexMale = %s, `age30-44` = %s, `age45-64` = %s,
             `age65+` = %s, region2 = %s, region3 = %s, region4 = %s)
    cal <- calibrate(des, ~sex + age + region, pop, calfun = "raking", epsilon = 1e-12,
                     maxit = 100)
    r <- svyby(~y, ~educ, cal, svymean)
    write.csv(data.frame(educ = r$educ, est = r$y, se = SE(r)), "out_r.csv", row.names = FALSE)
    """
    tot = dict(zip(pop["variable"] + "=" + pop["level"].astype(str), pop["total"], strict=True))
    keys = ["sex=Male", "age=30-44", "age=45-64", "age=65+", "region=2", "region=3", "region=4"]
    script = script % tuple(repr(float(tot[k])) for k in keys)
    r = run_r(script, {"d": f})["r"].set_index("educ")
    for lab in r.index:
        assert est.loc[lab, "estimate"] == pytest.approx(r.loc[lab, "est"], rel=1e-8)
        assert est.loc[lab, "se"] == pytest.approx(r.loc[lab, "se"], rel=1e-6)


def test_one_million_rows_rake_equal_memory(tmp_path):
    rng = np.random.default_rng(1)
    frame = _frame(rng, 1_000_000)
    src = tmp_path / "big.parquet"
    frame.to_parquet(src, index=False)
    t = _targets(3e8)
    mem = Sample(frame, weight="w").rake(t).weights.to_numpy()
    r = weight_files(src, t, out=tmp_path / "o.parquet", engine="duckdb", base_weight="w")
    got = pd.read_parquet(r.out)
    np.testing.assert_array_equal(got["id"].to_numpy(), frame["id"].to_numpy())
    np.testing.assert_allclose(got["weight"].to_numpy(), mem, rtol=1e-12, atol=0)


def test_calibrate_numeric_auxiliary_equal_memory(files, tmp_path):
    d, frame = files
    rows = [("sex", "Female", 0.51e6), ("sex", "Male", 0.49e6), ("region", "", 2.6e6)]
    t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]))
    mem = Sample(frame, weight="w").calibrate(t).weights.to_numpy()
    r = weight_files(d, t, "calibrate", out=tmp_path / "num.parquet", engine="duckdb",
                     base_weight="w")
    np.testing.assert_allclose(pd.read_parquet(r.out)["weight"], mem, rtol=1e-12, atol=0)


def test_text_outcome_is_an_error(files):
    d, _ = files
    with pytest.raises(DataError, match="outcome 'educ' is not numeric"):
        FileSample.from_files(d, weight="w").estimate("educ", by="sex")


def test_memory_engine_and_auto_choice(missing_files, tmp_path):
    d, frame = missing_files
    t = _targets(1e5)
    r = weight_files(d, t, out=tmp_path / "m.parquet", base_weight="w", missing="drop")
    assert r.choice.engine == "memory" and "available RAM" in r.choice.reason
    db = weight_files(d, t, out=tmp_path / "d.parquet", engine="duckdb", base_weight="w",
                      missing="drop")
    a, b = pd.read_parquet(r.out), pd.read_parquet(db.out)
    np.testing.assert_array_equal(a["id"], b["id"])
    np.testing.assert_allclose(a["weight"], b["weight"], rtol=1e-12, atol=0)
    assert r.dropped == db.dropped > 0


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
def test_missing_outcome_is_an_error(tmp_path, engine, client):
    # the Dask path used to pass None on to the cell table (a TypeError); both engines refuse
    f = _frame(np.random.default_rng(3), 200)
    f.loc[:4, "y"] = np.nan
    f.to_parquet(tmp_path / "p.parquet", index=False)
    fs = FileSample.from_files(tmp_path / "p.parquet", weight="w", engine=engine,
                               client=client if engine == "dask" else None)
    with pytest.raises(DataError, match="outcome 'y': 5 rows have missing values"):
        fs.estimate("y", by="sex")
