"""The output contract (issue 18, data loss): outputs checked before any work, written to a
temporary beside the target and published in one step; a folder, an input or another
writer's file is never replaced; an interrupted or failed run leaves nothing under the final
names (calib.data.output and every writer routed through it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from calib.cli.main import main
from calib.core.errors import DataError, OutputExistsError
from calib.data import output
from calib.data.output import (
    PAUSE_ENV,
    Staged,
    check_target,
    publish,
    remove_stale,
    temp_path,
    write_table,
    write_text,
)

ROOT = Path(__file__).resolve().parents[1]


# -- fixtures --------------------------------------------------------------------------------
def _persons(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"sex": rng.choice(["F", "M"], n), "y": rng.integers(0, 2, n)})


@pytest.fixture
def study(tmp_path):
    """A persona file (Parquet and CSV) and sex targets."""
    f = _persons(400)
    f.to_parquet(tmp_path / "in.parquet", index=False)
    f.to_csv(tmp_path / "in.csv", index=False)
    pd.DataFrame({"variable": "sex", "level": ["F", "M"], "share": [0.5, 0.5]}).to_csv(
        tmp_path / "t.csv", index=False)
    return tmp_path


def _weight(d: Path, inp: str, out: str, *extra: str) -> int:
    return main(["weight", inp, "--targets", str(d / "t.csv"), "--method", "rake",
                 "--out", out, *extra])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if ".calib-" in p.name and
            p.name.endswith((".tmp", ".old"))]


# -- the layer -------------------------------------------------------------------------------
def test_format_follows_the_suffix_and_a_folder_is_no_file(tmp_path):
    f = pd.DataFrame({"x": [1, 2]})
    write_table(f, tmp_path / "a.csv", overwrite=False)
    write_table(f, tmp_path / "a.parquet", overwrite=False)
    assert (tmp_path / "a.csv").read_text() == "x\n1\n2\n"
    assert (tmp_path / "a.parquet").read_bytes()[:4] == b"PAR1"
    with pytest.raises(DataError, match="unknown extension '.xlsx'"):
        write_table(f, tmp_path / "a.xlsx", overwrite=True)
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        check_target(tmp_path / "d.csv", True)
    with pytest.raises(DataError, match="folder .* does not exist"):
        check_target(tmp_path / "nope" / "a.csv", True)


def test_output_that_is_an_input_is_refused(tmp_path):
    (tmp_path / "in.parquet").write_bytes(b"x")
    for inp in (tmp_path / "in.parquet", tmp_path, str(tmp_path / "*.parquet"),
                str(tmp_path / "i?.parquet")):
        with pytest.raises(DataError, match="is also an input"):
            check_target(tmp_path / "in.parquet", True, inputs=[inp])
    # a new output beside the inputs is fine (the rerun, which would read it, is refused)
    assert check_target(tmp_path / "new.parquet", False, inputs=[str(tmp_path / "*.parquet")])
    # the same file under another spelling
    with pytest.raises(DataError, match="is also an input"):
        check_target(tmp_path / "sub" / ".." / "in.parquet", True,
                     inputs=[tmp_path / "in.parquet"])
    assert check_target(tmp_path / "o.csv", False, inputs=[tmp_path / "in.parquet"])


def test_publish_never_clobbers_without_overwrite(tmp_path):
    final = tmp_path / "o.json"
    tmp = temp_path(final)
    tmp.write_text("mine")
    final.write_text("theirs")  # appeared after the check
    with pytest.raises(OutputExistsError, match="another writer"):
        publish(tmp, final, overwrite=False)
    assert final.read_text() == "theirs" and not tmp.exists()
    tmp.write_text("mine")
    publish(tmp, final, overwrite=True)
    assert final.read_text() == "mine" and not tmp.exists()


def test_failed_or_interrupted_write_leaves_nothing(tmp_path):
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), output.atomic_path(tmp_path / "a.csv", overwrite=False) as t:
            t.write_text("half")
            raise exc
        with pytest.raises(type(exc)), Staged(overwrite=False) as st:
            st.path(tmp_path / "b.csv").write_text("b")
            raise exc
    assert list(tmp_path.iterdir()) == []


def test_staged_set_is_all_or_nothing(tmp_path):
    (tmp_path / "b.csv").write_text("theirs")
    with pytest.raises(OutputExistsError), Staged(overwrite=False) as st:
        st.path(tmp_path / "a.csv").write_text("a")
        st.path(tmp_path / "b.csv").write_text("b")
    # a.csv was published, then taken back when b.csv clashed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv"]
    assert (tmp_path / "b.csv").read_text() == "theirs"


def test_stale_temporaries_of_dead_runs_are_removed(tmp_path):
    final = tmp_path / "o.csv"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".o.csv.calib-{int(dead.stdout)}.tmp"
    live = tmp_path / f".o.csv.calib-{os.getppid()}.tmp"
    other = tmp_path / ".p.csv.calib-1.tmp"
    for p in (stale, live, other):
        p.write_text("x")
    write_text("new", final, overwrite=False)
    assert not stale.exists() and live.exists() and other.exists()
    assert remove_stale(final) == []


# -- data loss cases of the issue ------------------------------------------------------------
@pytest.mark.parametrize("engine", ["duckdb", "memory", "auto"])
def test_folder_as_out_is_refused_and_kept(study, engine, capsys):
    user = study / "results"
    user.mkdir()
    (user / "thesis.txt").write_text("years of work")
    before = _snapshot(study)
    for out in (user, study / "results.parquet"):
        if out != user:
            out.mkdir()
        code = _weight(study, str(study / "in.parquet"), str(out), "--engine", engine,
                       "--overwrite")
        assert code == 2
        assert "folder" in capsys.readouterr().err
    assert _snapshot(study) == before
    assert (user / "thesis.txt").read_text() == "years of work"


@pytest.mark.parametrize("engine", ["duckdb", "memory", "auto"])
def test_output_equal_to_input_is_refused_before_reading(study, engine, capsys):
    before = _snapshot(study)
    for inp in ("in.parquet", "in.csv"):
        code = _weight(study, str(study / inp), str(study / inp), "--engine", engine,
                       "--overwrite")
        assert code == 2, inp
        assert "is also an input" in capsys.readouterr().err
    assert _snapshot(study) == before


def test_rerun_whose_input_glob_matches_its_own_output(study, capsys):
    out = study / "w.parquet"
    pd.read_parquet(study / "in.parquet").assign(weight=1.0).to_parquet(out, index=False)
    before = _snapshot(study)
    code = _weight(study, str(study / "*.parquet"), str(out), "--engine", "duckdb",
                   "--overwrite")
    assert code == 2
    assert "is also an input" in capsys.readouterr().err
    assert _snapshot(study) == before
    # the folder form of the same mistake
    assert _weight(study, str(study), str(out), "--engine", "duckdb", "--overwrite") == 2
    assert _snapshot(study) == before


@pytest.mark.parametrize("engine", ["duckdb", "memory"])
def test_csv_out_gets_csv(study, engine):
    out = study / "w.csv"
    assert _weight(study, str(study / "in.parquet"), str(out), "--engine", engine) == 0
    back = pd.read_csv(out)
    assert list(back.columns) == ["sex", "y", "weight"] and len(back) == 400
    assert _temps(study) == []


def test_duckdb_overwrite_replaces_a_file_in_one_step(study):
    out = study / "w.parquet"
    out.write_bytes(b"old")
    assert _weight(study, str(study / "in.parquet"), str(out), "--engine", "duckdb",
                   "--overwrite") == 0
    assert len(pd.read_parquet(out)) == 400 and _temps(study) == []


def test_dask_parts_folder_replaced_only_when_calib_wrote_it(study):
    from calib.core.targets import Targets
    from calib.outofcore import weight_files
    from calib.outofcore.writeback import PARTS_MARKER

    t = Targets.read(study / "t.csv")
    out = study / "parts.parquet"
    weight_files(study / "in.parquet", t, out=out, engine="dask")
    assert (out / PARTS_MARKER).is_file() and len(pd.read_parquet(out)) == 400
    weight_files(study / "in.parquet", t, out=out, engine="dask", overwrite=True)
    assert len(pd.read_parquet(out)) == 400 and _temps(study) == []
    user = study / "user.parquet"
    user.mkdir()
    (user / "mine.parquet").write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="not a calib store"):
        weight_files(study / "in.parquet", t, out=user, engine="dask", overwrite=True)
    assert (user / "mine.parquet").read_bytes() == b"precious"


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    e = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-c", "from calib.cli.main import main; main()",
                             *args], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_temp(folder: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while not _temps(folder):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "no temporary appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_or_interrupted_writer_leaves_nothing(study, sig):
    out = study / "w.csv"
    args = ["weight", str(study / "in.parquet"), "--targets", str(study / "t.csv"),
            "--method", "rake", "--out", str(out)]
    p = _cli(*args, env={PAUSE_ENV: "60"})
    _wait_for_temp(study, p)
    p.send_signal(sig)
    p.communicate(timeout=60)
    assert not out.exists()
    if sig == signal.SIGINT:  # Ctrl-C: exit 130, the temporary removed
        assert p.returncode == 130 and _temps(study) == []
    else:  # kill -9 leaves its temporary; the rerun removes it and is not refused
        assert p.returncode == -signal.SIGKILL and _temps(study)
        assert main(args) == 0
        assert len(pd.read_csv(out)) == 400 and _temps(study) == []


def test_two_writers_of_one_out_exactly_one_wins(study):
    out = study / "w.csv"
    procs = [_cli("weight", str(study / "in.parquet"), "--targets", str(study / "t.csv"),
                  "--method", "rake", "--out", str(out), "--weight-column", col, env={PAUSE_ENV: "3"})
             for col in ("wa", "wb")]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    back = pd.read_csv(out)
    assert len(back) == 400 and list(back.columns)[:2] == ["sex", "y"]
    assert list(back.columns)[2] in ("wa", "wb") and back.shape[1] == 3
    assert _temps(study) == []


# -- fit stores, samples, replicates ---------------------------------------------------------
def _fake_fit() -> SimpleNamespace:
    import xarray as xr

    from calib.core.cells import CellTable

    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"a": ("draw", np.arange(3.0))})})
    spec = SimpleNamespace(outcome="y", family="bernoulli", outcome_levels=(), terms=(),
                           variable_levels={}, domain_table={})
    cells = CellTable(variables=("sex",), levels={"sex": ("F", "M")},
                      keys=np.array([[0], [1]]), count=np.array([1, 1]),
                      weight=np.array([1.0, 1.0]), sums={})
    return SimpleNamespace(idata=tree, spec=spec, cells=cells, options={},
                           diagnostics=pd.DataFrame({"r_hat": [1.0]}))


def test_save_fit_overwrite_never_removes_a_user_folder(tmp_path):
    from calib.mrp.store import FIT_FORMAT, is_fit_store, save_fit

    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="not a calib store"):
        save_fit(_fake_fit(), user, overwrite=True)  # type: ignore[arg-type]
    assert (user / "notes.txt").read_text() == "keep"
    store = tmp_path / "fit.zarr"
    save_fit(_fake_fit(), store)  # type: ignore[arg-type]
    assert is_fit_store(store)
    assert json.loads((tmp_path / "fit.zarr.json").read_text())["format"] == FIT_FORMAT
    with pytest.raises(OutputExistsError):
        save_fit(_fake_fit(), store)  # type: ignore[arg-type]
    save_fit(_fake_fit(), store, overwrite=True)  # type: ignore[arg-type]
    assert is_fit_store(store) and _temps(tmp_path) == []


def test_save_sample_to_a_folder_is_refused(tmp_path):
    from calib import Sample
    from calib.estimation.persist import save_replicates, save_sample

    s = Sample(pd.DataFrame({"y": [1.0, 2.0, 3.0]}))
    (tmp_path / "d.parquet").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        save_sample(s, tmp_path / "d.parquet", overwrite=True)
    save_replicates(s, tmp_path / "r.parquet", "jackknife")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.parquet", "r.parquet",
                                                          "r.parquet.json"]


# -- calib demo and calib run ----------------------------------------------------------------
def test_demo_replaces_only_its_own_files(tmp_path, monkeypatch, capsys):
    from calib.studies import demo_study

    def fake_report(res, path, *, overwrite=False, **_):
        return write_text("<html/>", path, overwrite=overwrite, what="report file")

    monkeypatch.setattr(demo_study, "study_report", fake_report)
    out = tmp_path / "out"
    for _ in range(2):  # make demo twice
        ctx = {"results": {}, "study": None, "out_dir": out}
        assert demo_study.report_step(ctx).startswith("wrote")
    assert json.loads((out / demo_study.MANIFEST).read_text())["files"] == ["report.html"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.html").write_text("my report")
    # refused before any work by the CLI (exit 2), kept
    assert main(["demo", "--step", "report", "--out-dir", str(mine)]) == 2
    assert "not written by calib demo" in capsys.readouterr().err
    assert (mine / "report.html").read_text() == "my report"
    ctx = {"results": {}, "study": None, "out_dir": mine, "overwrite": True}
    demo_study.report_step(ctx)
    assert (mine / "report.html").read_text() == "<html/>"


def _cfg(out: Path) -> dict:
    return {"personas": {"simulate": {"year": 2024, "per_state": 60, "human_n": 0, "seed": 1},
                         "persona_type": "meta"},
            "analysis": {"outcome": "vote_dem", "methods": ["raw"], "variables": ["age6"]},
            "forecast": {"year": 2024, "fill_missing": "previous", "draws": 200},
            "outputs": {"dir": str(out), "report": True}}


def test_study_whose_report_fails_leaves_nothing(tmp_path, monkeypatch):
    from calib.studies import pipeline

    def broken(*a, **k):
        raise DataError("report step failed")

    monkeypatch.setattr(pipeline, "study_report", broken)
    out = tmp_path / "study"
    with pytest.raises(DataError, match="report step failed"):
        pipeline.run_study(_cfg(out))
    assert list(out.iterdir()) == []


def test_study_clash_is_refused_before_the_work(tmp_path, monkeypatch):
    from calib.studies import pipeline

    out = tmp_path / "study"
    out.mkdir()
    (out / "forecast_raw.json").write_text("{}")

    def never(*a, **k):
        raise AssertionError("the work ran before the clash check")

    monkeypatch.setattr(pipeline, "_personas", never)
    with pytest.raises(OutputExistsError, match="forecast_raw.json"):
        pipeline.run_study(_cfg(out))
    assert (out / "forecast_raw.json").read_text() == "{}"


def test_disk_full_is_exit_2_and_leaves_nothing(study, monkeypatch, capsys):
    def full(self, path, *a, **k):
        Path(path).write_text("sex,y,wei")  # a partial temporary, then the disk is full
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert _weight(study, str(study / "in.parquet"), str(study / "w.csv")) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not (study / "w.csv").exists() and _temps(study) == []
