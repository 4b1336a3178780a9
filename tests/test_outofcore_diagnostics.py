"""Diagnostics out of core (issue 19): DuckDB and Dask cells give the in-memory margin
table, ASMD and weight summary; ``calib weight --engine duckdb --diagnostics-json`` writes
them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from calib import Sample, Targets
from calib.cli.main import main
from calib.outofcore.filesample import FileSample


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("oocdiag")
    rng = np.random.default_rng(19)
    frames = []
    for k in range(2):
        n = 20_000
        f = pd.DataFrame({
            "sex": rng.choice(["F", "M"], n, p=[0.4, 0.6]).astype(object),
            "age": rng.choice(["18-29", "30-44", "45-64", "65+"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "region": rng.choice([1, 2, 3], n),
            "inc": rng.choice([10.0, 20.0, 35.0, 50.0], n),
            "w": rng.uniform(0.5, 2.0, n),
        })
        f.loc[rng.random(n) < 0.01, "sex"] = None
        f.to_parquet(d / f"p{k}.parquet", index=False)
        frames.append(pd.read_parquet(d / f"p{k}.parquet"))
    return d, pd.concat(frames, ignore_index=True)


def _targets(numeric: bool = False) -> Targets:
    rows = [("sex", "F", 0.5), ("sex", "M", 0.5), ("age", "18-29", 0.2), ("age", "30-44", 0.3),
            ("age", "45-64", 0.3), ("age", "65+", 0.2), ("region", "1", 0.3),
            ("region", "2", 0.3), ("region", "3", 0.4)]
    rows = [(v, lv, sh * 1e5) for v, lv, sh in rows]
    if numeric:
        rows.append(("inc", "", 28.0 * 1e5))
    return Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]))


def _same(fd, md, exact_extremes: bool) -> None:
    pd.testing.assert_frame_equal(fd.margins, md.margins, rtol=1e-10, atol=1e-13)
    pd.testing.assert_frame_equal(fd.asmd, md.asmd, rtol=1e-9, atol=1e-12)
    assert fd.n == md.n and fd.method == md.method
    assert fd.n_eff == pytest.approx(md.n_eff, rel=1e-10)
    assert fd.deff == pytest.approx(md.deff, rel=1e-10)
    keys = list(md.weights.index) if exact_extremes else ["n", "total", "mean", "cv", "n_eff",
                                                          "deff"]
    np.testing.assert_allclose(fd.weights[keys].to_numpy(), md.weights[keys].to_numpy(),
                               rtol=1e-9)
    if not exact_extremes:
        assert np.isnan(fd.weights["min"]) and np.isnan(fd.weights["above_3x_mean"])


@pytest.mark.parametrize("engine", ["duckdb", "dask"])
@pytest.mark.parametrize("base", ["w", None])
def test_rake_diagnostics_equal_memory(data, engine, base):
    d, frame = data
    t = _targets()
    mem = Sample(frame, weight=base).rake(t, missing="drop").diagnostics()
    fs = FileSample.from_files(str(d / "*.parquet"), weight=base, engine=engine)
    got = fs.rake(t, missing="drop").diagnostics()
    _same(got, mem, exact_extremes=base is None)


def test_calibrate_numeric_auxiliary_diagnostics_equal_memory(data):
    d, frame = data
    frame = frame.dropna(subset=["sex"]).reset_index(drop=True)
    t = _targets(numeric=True)
    mem = Sample(frame, weight="w").calibrate(t, missing="drop").diagnostics()
    got = FileSample.from_files(d, weight="w").calibrate(t, missing="drop").diagnostics()
    _same(got, mem, exact_extremes=False)
    assert "inc" in set(got.margins["margin"])


def test_cli_duckdb_writes_the_in_memory_diagnostics(data, tmp_path, capsys):
    d, frame = data
    src = tmp_path / "one.parquet"
    frame.to_parquet(src, index=False)
    tf = tmp_path / "t.csv"
    _targets().to_frame().to_csv(tf, index=False)
    out = {}
    for engine in ("memory", "duckdb"):
        js = tmp_path / f"{engine}.json"
        code = main(["weight", str(src), "--targets", str(tf), "--method", "rake",
                     "--missing", "drop", "--base-weight", "w", "--engine", engine,
                     "--out", str(tmp_path / f"{engine}.parquet"), "--diagnostics-json", str(js)])
        assert code == 0, capsys.readouterr()
        out[engine] = json.loads(js.read_text())["diagnostics"]
    mem, ddb = out["memory"], out["duckdb"]
    assert ddb["margins"] and ddb["asmd"]
    pd.testing.assert_frame_equal(pd.DataFrame(ddb["margins"]), pd.DataFrame(mem["margins"]),
                                  rtol=1e-10, atol=1e-13)
    assert ddb["n_eff"] == pytest.approx(mem["n_eff"], rel=1e-10)
    assert ddb["weights"]["min"] is None  # base weights vary within cells: not from cells
