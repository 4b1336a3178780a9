"""A missing optional dependency or input file is bad setup, not a bug: exit 2 with the fix
(``pip install "calib[dist]"``, ``file not found: ...``); a Dask client calib opened from a
scheduler address is closed (by ``close()``, the ``with`` block, or when the last sample
holding it goes)."""

import gc
import sys

import numpy as np
import pandas as pd
import pytest

from calib import Targets
from calib.cli.main import main
from calib.core.errors import MissingDependencyError
from calib.outofcore.filesample import FileSample

HINT = 'pip install "calib[dist]"'


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    f = pd.DataFrame({"sex": rng.choice(["F", "M"], 200), "y": rng.random(200)})
    f.to_parquet(tmp_path / "p.parquet")
    pd.DataFrame({"variable": "sex", "level": ["F", "M"], "share": [0.5, 0.5]}).to_csv(
        tmp_path / "t.csv", index=False)
    return tmp_path


@pytest.fixture()
def no_dask(monkeypatch):
    """Import dask or distributed as if the dist extra were not installed."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("dask", "distributed"):
            monkeypatch.delitem(sys.modules, name)
    for name in ("dask", "dask.dataframe", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ModuleNotFoundError


@pytest.mark.parametrize("command", ["estimate", "weight"])
def test_engine_dask_without_dask_exits_2_with_the_install_command(no_dask, files, capsys,
                                                                    command):
    what = (("--outcome", "y", "--out", files / "e.csv") if command == "estimate" else
            ("--targets", files / "t.csv", "--method", "rake", "--out", files / "w.parquet"))
    code, out = cli(capsys, command, files / "p.parquet", *what, "--engine", "dask")
    assert code == 2, out.err
    assert HINT in out.err and "internal" not in out.err and "report" not in out.err


def test_from_files_without_dask_raises_missing_dependency(no_dask, files):
    with pytest.raises(MissingDependencyError, match=r'calib\[dist\]'):
        FileSample.from_files(files / "p.parquet", engine="dask")
    assert issubclass(MissingDependencyError, ImportError)


def test_a_stray_import_of_an_extra_is_exit_2_not_an_internal_error(monkeypatch, files, capsys):
    import calib.cli.commands.estimate as est

    def boom(*a, **k):
        raise ModuleNotFoundError("No module named 'distributed'", name="distributed")

    monkeypatch.setattr(est, "run", boom)
    code, out = cli(capsys, "estimate", files / "p.parquet", "--outcome", "y", "--out",
                    files / "e.csv")
    assert code == 2 and HINT in out.err


@pytest.mark.parametrize("extra", [(), ("--codebook", "personas"), ("--engine", "duckdb")])
def test_missing_input_file_says_file_not_found(files, capsys, extra):
    # with --codebook it used to be reported as an engine problem
    code, out = cli(capsys, "estimate", files / "nope.csv", "--outcome", "y", "--out",
                    files / "e.csv", *extra)
    assert code == 2
    assert out.err.startswith(f"error: file not found: '{files / 'nope.csv'}'"), out.err


def test_client_opened_from_a_scheduler_address_is_closed(files):
    distributed = pytest.importorskip("distributed")
    t = Targets.from_frame(pd.read_csv(files / "t.csv"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        with FileSample.from_files(files / "p.parquet", engine="dask", scheduler=addr) as fs:
            client = fs.client
            w = fs.rake(t)  # a derived sample shares the client
            assert w.client is client and client.status == "running"
            assert w.estimate("y", by="sex")["n"].sum() == 200
        assert client.status == "closed"
        # without close(): closed when the last sample holding it is collected
        fs = FileSample.from_files(files / "p.parquet", engine="dask", scheduler=addr)
        client = fs.client
        w = fs.rake(t)
        del fs
        gc.collect()
        assert client.status == "running"
        del w
        gc.collect()
        assert client.status == "closed"
        # a client passed in is the caller's: left open
        with distributed.Client(addr) as mine:
            FileSample.from_files(files / "p.parquet", engine="dask", client=mine).close()
            assert mine.status == "running"
