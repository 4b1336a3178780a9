"""``calib weight`` / ``calib estimate`` with --engine: globs of Parquet files, out of core."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_engines import _frame, _targets

from calib import Sample
from calib.cli.main import main


def test_weight_and_estimate_commands_out_of_core(tmp_path, capsys):
    rng = np.random.default_rng(5)
    frames = []
    for k in range(2):
        f = _frame(rng, 4000)
        f.to_parquet(tmp_path / f"p{k}.parquet", index=False)
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    _targets(1e6).to_frame().to_csv(tmp_path / "t.csv", index=False)
    glob = str(tmp_path / "p*.parquet")
    args = ["--targets", str(tmp_path / "t.csv"), "--method", "rake", "--base-weight", "w"]
    out = tmp_path / "o.parquet"
    assert main(["weight", glob, *args, "--engine", "duckdb", "--out", str(out)]) == 0
    assert "engine: duckdb (asked for)" in capsys.readouterr().out
    mem = Sample(frame, weight="w").rake(_targets(1e6)).weights.to_numpy()
    np.testing.assert_allclose(pd.read_parquet(out)["weight"], mem, rtol=1e-12, atol=0)
    # never overwritten without --overwrite: exit code of a DataError, one-line message
    assert main(["weight", glob, *args, "--engine", "duckdb", "--out", str(out)]) != 0
    assert "--overwrite" in capsys.readouterr().err
    est = tmp_path / "e.csv"
    assert main(["estimate", glob, "--outcome", "y", "--by", "educ", *args, "--out", str(est),
                 "--engine", "duckdb"]) == 0
    table = pd.read_csv(est)
    assert set(table["domain"]) == {"College", "HS", "Post-grad"}
    assert (table["se"] > 0).all() and (table["ess"] < table["n"]).all()
