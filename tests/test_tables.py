"""One table reader: a CSV gives the same values on every path that reads it.

The rule is the in-memory command line's (docs/design.md, "The command line"): CSV columns
are text, only an empty cell is missing. A code ``"01"`` stays ``"01"`` (it was ``1`` on the
paths that let pandas/DuckDB/Dask guess types) and ``"NA"`` is the text ``"NA"`` (it was
missing there).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calib import Sample, Targets
from calib.cli.commands._io import read_frame
from calib.core.errors import DataError
from calib.data.readers import read_answers, read_personas
from calib.data.readers import read_table as readers_read_table
from calib.data.tables import read_table, to_numeric
from calib.election.forecast import read_state_estimates
from calib.outofcore import weight_files
from calib.outofcore.dask_cells import dask_cells
from calib.outofcore.duckdb_cells import duckdb_cells

CODES = ["01", "02", "NA", "01", "02", "01"]  # "NA" is a missing token of weighting variables
ZIP = ["01", "02", "03", "01", "02", "03"]  # a column DuckDB's type sniffing took for integers


@pytest.fixture()
def csv(tmp_path: Path) -> Path:
    p = tmp_path / "p.csv"
    pd.DataFrame({"persona_id": [f"p{i}" for i in range(6)], "code": CODES, "zip": ZIP,
                  "w": ["1", "2", "1.5", "", "1", "1"], "y": ["1", "0", "1", "0", "", "1"]}
                 ).to_csv(p, index=False)  # fmt: skip
    return p


def _targets(var: str = "code", levels: tuple[str, ...] = ("01", "02")) -> Targets:
    return Targets.from_frame(pd.DataFrame({"variable": var, "level": list(levels),
                                            "total": [30.0, 20.0, 10.0][: len(levels)]}))


def test_every_reader_keeps_01_and_na_as_text(csv: Path) -> None:
    ref = read_table(csv)
    assert ref["code"].tolist() == CODES
    assert ref["w"].isna().tolist() == [False, False, False, True, False, False]
    assert readers_read_table is read_table
    for frame in (read_frame(csv), read_personas(csv), read_answers(csv, question="code",
                                                                    answer="y")):
        pd.testing.assert_frame_equal(frame, ref)


def test_targets_file_keeps_01_and_na_levels(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("variable,level,total\ncode,01,30\ncode,02,20\ncode,NA,10\n")
    t = Targets.read(p)
    assert t.levels()["code"] == ("01", "02", "NA")
    np.testing.assert_array_equal(t["code"].values, [30.0, 20.0, 10.0])


def test_numbers_are_converted_where_used(csv: Path) -> None:
    f = read_table(csv)
    assert to_numeric(f, "w", "weight").tolist()[:3] == [1.0, 2.0, 1.5]
    with pytest.raises(DataError, match=r"column 'code' has 1 non-numeric values \(first 'NA'"):
        to_numeric(f, "code", "outcome")


def test_out_of_core_memory_path_weights_a_csv_like_the_in_memory_path(csv: Path,
                                                                      tmp_path: Path) -> None:
    """`weight_files` read CSVs with pandas' guesses: '01' became 1 and 'NA' missing, so the
    targets' levels did not match. It now reads them as the CLI does."""
    frame = read_frame(csv)
    frame["w"] = frame["w"].fillna("1")
    src = tmp_path / "q.csv"
    frame.to_csv(src, index=False)
    r = weight_files(src, _targets(), "poststratify", out=tmp_path / "w.parquet",
                     engine="memory", base_weight="w", missing="drop")
    mem = Sample(frame.assign(w=frame["w"].astype(float)), weight="w").poststratify(
        _targets(), missing="drop")
    out = pd.read_parquet(r.out)
    np.testing.assert_allclose(out["weight"], mem.weight_array, rtol=1e-12)
    assert out["code"].tolist() == [c for c in CODES if c != "NA"] and r.dropped == 1
    assert out["zip"].tolist() == ["01", "02", "01", "02", "03"]


@pytest.mark.parametrize("build", [duckdb_cells, dask_cells])
def test_duckdb_and_dask_read_csv_codes_as_text(csv: Path, build) -> None:
    """The engines let DuckDB / pandas guess types: ZIP codes became 1, 2, 3."""
    levels = {"zip": ("01", "02", "03")}
    cells, _ = build(str(csv), ["zip"], levels=levels)
    mem = Sample(read_frame(csv)).poststratify(_targets("zip", levels["zip"]))
    assert cells.levels["zip"] == mem.history[-1].calibration.cells.levels["zip"]
    assert cells.count.tolist() == [2, 2, 2]
    # "NA" is the same missing token on every path
    cells, combos = build(str(csv), ["code"], missing="drop")
    assert cells.levels["code"] == ("01", "02") and dict(combos.dropped) == {"code": 1}
    # the empty weight cell is missing on every path (the engines refuse it)
    with pytest.raises(DataError, match="missing, infinite or negative base weights"):
        build(str(csv), ["zip"], base_weight="w")


def test_forecast_estimates_file_reads_numbers(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("state,estimate,se\nCA,0.6,0.02\nTX,0.45,0.03\n")
    got = read_state_estimates(p)
    assert got["estimate"].tolist() == [0.6, 0.45] and got["se"].dtype == float


def test_tsv_and_txt_are_read_by_the_same_rule(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("code\tx\n01\tNA\n")
    (tmp_path / "a.txt").write_text("code,x\n01,NA\n")
    for name in ("a.tsv", "a.txt"):
        f = read_table(tmp_path / name)
        assert f.iloc[0].tolist() == ["01", "NA"]
