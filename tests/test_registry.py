"""The weighting-method capability registry: every path honours every capability a record
declares, refuses what it does not declare, and the docs table is the registry's."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calib import CalibError, ConvergenceError, DataError, Sample, Targets
from calib.cli.commands._weighting import GENERIC_FLAGS, KWARGS, OPTIONS, WeightingOptions, validate
from calib.cli.main import main
from calib.core.errors import InfeasibleError
from calib.outofcore.filesample import FileSample
from calib.weighting import problem as _design
from calib.weighting import registry
from calib.weighting.rake import solve_cells as rake_cells

ROOT = Path(__file__).resolve().parents[1]
CELL_METHODS = [m.name for m in registry.methods() if m.cells is not None]


# -- data -----------------------------------------------------------------------------------
def _frame(n: int = 600, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["F", "M"], n, p=[0.4, 0.6])
    age = rng.choice(["young", "mid", "old"], n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < 0.3 + 0.2 * (sex == "M")).astype(float)
    return pd.DataFrame({"sex": sex, "age": age, "w": rng.uniform(0.5, 2.0, n), "y": y,
                         "psu": np.arange(n) // 3})


def _oneway(population: float | None = 10_000) -> Targets:
    return Targets.from_frame(pd.DataFrame({
        "variable": ["sex", "sex", "age", "age", "age"],
        "level": ["F", "M", "young", "mid", "old"],
        "share": [0.52, 0.48, 0.3, 0.4, 0.3]}), population=population)


def _joint(population: float | None = 10_000) -> Targets:
    levels = [f"{s}:{a}" for s in ("F", "M") for a in ("young", "mid", "old")]
    return Targets.from_frame(pd.DataFrame({
        "variable": "sex:age", "level": levels,
        "share": [0.15, 0.2, 0.17, 0.15, 0.2, 0.13]}), population=population)


def _targets_for(m: registry.Method, population: float | None = 10_000) -> Targets:
    """Targets a method of this kernel takes: one joint margin for the closed form."""
    return _joint(population) if m.kernel == "closed_form" else _oneway(population)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("registry")
    frame = _frame()
    frame.to_parquet(d / "p.parquet", index=False)
    return d, frame


def _file_weights(fs: FileSample, frame: pd.DataFrame, tmp: Path, name: str) -> np.ndarray:
    out = fs.write(tmp / f"{name}.parquet", overwrite=True)
    return pd.read_parquet(out.out)["weight"].to_numpy()


# -- the records themselves -----------------------------------------------------------------
@pytest.mark.parametrize("name", registry.available())
def test_record_matches_its_functions(name):
    """Options, defaults and the cell solve's keywords are those of the functions."""
    m = registry.method(name)
    assert m.kind in ("targets", "reference", "none")
    assert set(m.cli_flags) <= {"--" + n.replace("_", "-") for n in OPTIONS}
    if name == "optimal":
        pytest.importorskip("cvxpy")
    params = {p.name: p.default for p in inspect.signature(m.load()).parameters.values()
              if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert params == m.defaults(), name
    if m.cells is not None:
        cell = inspect.signature(registry.resolve(m.cells)).parameters
        for p in list(cell)[1:]:
            assert p in params and cell[p].default == params[p], (name, p)
    # capability flags agree with the options
    assert m.allow_nonconvergence == ("allow_nonconvergence" in params)
    for flag in m.cli_flags:
        opt = flag[2:].replace("-", "_")
        opt = KWARGS.get(opt, opt)  # --penalty-c sets C
        assert opt in ("targets", "reference") or opt in params, (name, flag)
    assert set(m.replay) <= set(params)


def test_naming_a_method_imports_no_solver():
    code = ("import sys; from calib.weighting import registry; registry.method('optimal'); "
            "registry.markdown(); print('cvxpy' in sys.modules, 'calib.weighting.rake' in "
            "sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert out == ["False", "False"]


def test_persist_replays_what_the_registry_declares():
    from calib.estimation import persist

    # sample persistence sits above weighting and reads the records' ``replay``
    declared = {m.name: m.replay for m in registry.methods() if m.replay}
    assert persist.replayable() == declared
    assert declared["calibrate"] == ("distance", "bounds", "tol", "max_iter", "trim", "missing")


def test_unknown_method_and_capability():
    with pytest.raises(CalibError, match="unknown weighting method 'nope'"):
        registry.method("nope")
    with pytest.raises(CalibError, match="unknown capability"):
        registry.method("rake").require("flying", "the sky")
    with pytest.raises(CalibError, match="has no cell-level solve"):
        registry.method("optimal").solve_cells(None)


# -- out of core ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", [m.name for m in registry.methods(out_of_core=True)])
def test_out_of_core_equals_memory(data, tmp_path, name):
    d, frame = data
    m = registry.method(name)
    t = _targets_for(m)
    mem = Sample(frame, weight="w").weight(name, t)
    fs = FileSample.from_files(d / "p.parquet", weight="w").weight(name, t)
    got = _file_weights(fs, frame, tmp_path, name)
    np.testing.assert_allclose(got, mem.weight_array, rtol=1e-12, atol=0)
    assert fs.history[-1].options == mem.history[-1].options
    # the variance residualization follows the record on both paths
    e_mem = mem.estimate("y", variance="linearization")
    e_fs = fs.estimate("y")
    assert float(e_fs["estimate"].iloc[0]) == pytest.approx(float(e_mem["estimate"].iloc[0]),
                                                            rel=1e-12)


@pytest.mark.parametrize("name", [m.name for m in registry.methods(out_of_core=False)])
def test_out_of_core_refused_when_not_declared(data, name):
    d, _ = data
    with pytest.raises(DataError, match=f"method '{name}' is not available out of core"):
        FileSample.from_files(d / "p.parquet").weight(name, _oneway())


def test_options_that_need_rows_are_refused_out_of_core(data):
    d, _ = data
    for m in registry.methods(out_of_core=True):
        for opt in m.options:
            if not opt.out_of_core:
                with pytest.raises(DataError, match=f"{opt.name}= is not available out of core"):
                    FileSample.from_files(d / "p.parquet").weight(m.name, _targets_for(m),
                                                                  **{opt.name: 2.0})
    with pytest.raises(DataError, match="takes no option 'divergence'"):
        FileSample.from_files(d / "p.parquet").rake(_oneway(), divergence="kl")


# -- trimming, infeasibility, allow_nonconvergence on the file path ---------------------------
def test_trimming_on_the_file_path(data, tmp_path):
    """Behaviour change: calibrate(trim=) was silently ignored out of core; now applied."""
    d, frame = data
    for m in registry.methods(out_of_core=True, trimming=True):
        kw = {"trim": (0.5, 1.6)}
        t = _targets_for(m, population=None)  # shares of the sample's total: g near 1
        mem = Sample(frame, weight="w").weight(m.name, t, **kw)
        fs = FileSample.from_files(d / "p.parquet", weight="w").weight(m.name, t, **kw)
        assert mem.history[-1].options["trimmed"] > 0
        assert fs.history[-1].options == mem.history[-1].options
        np.testing.assert_allclose(_file_weights(fs, frame, tmp_path, "trim"),
                                   mem.weight_array, rtol=1e-12, atol=0)


def test_infeasibility_diagnosis_on_the_file_path(data):
    """Behaviour change: the file path names the unreachable entries (InfeasibleError)."""
    d, frame = data
    for m in registry.methods(out_of_core=True, infeasibility=True):
        kw = {"bounds": (0.99, 1.01)}
        with pytest.raises(InfeasibleError, match="cannot meet") as e_mem:
            Sample(frame, weight="w").weight(m.name, _targets_for(m), **kw)
        with pytest.raises(InfeasibleError, match="cannot meet") as e_fs:
            FileSample.from_files(d / "p.parquet", weight="w").weight(m.name,
                                                                      _targets_for(m), **kw)
        assert str(e_fs.value) == str(e_mem.value)


def test_allow_nonconvergence_on_the_file_path(data, tmp_path):
    """Behaviour change: allow_nonconvergence=True was ignored out of core (it raised)."""
    d, frame = data
    for m in registry.methods(out_of_core=True, allow_nonconvergence=True):
        kw = {"max_iter": 1, "tol": 1e-15}
        t = _targets_for(m)
        with pytest.raises(ConvergenceError):
            FileSample.from_files(d / "p.parquet", weight="w").weight(m.name, t, **kw)
        with pytest.warns(UserWarning, match="did not converge"):
            mem = Sample(frame, weight="w").weight(m.name, t, allow_nonconvergence=True, **kw)
        with pytest.warns(UserWarning, match="did not converge"):
            fs = FileSample.from_files(d / "p.parquet", weight="w").weight(
                m.name, t, allow_nonconvergence=True, **kw)
        assert not fs.history[-1].converged and not mem.history[-1].converged
        np.testing.assert_allclose(_file_weights(fs, frame, tmp_path, "nc"), mem.weight_array,
                                   rtol=1e-12, atol=0)


def test_calibrate_rescaling_warns_on_the_file_path(data):
    """Behaviour change: the R rescaling of bounded calibration warns out of core too."""
    d, frame = data
    t = _oneway(1e6)  # population 1e6 over 600 rows: every ratio above 20
    with pytest.warns(UserWarning, match="rescaled"):
        fs = FileSample.from_files(d / "p.parquet").calibrate(t, bounds=(0.3, 3.0))
    assert any("rescaled" in n for n in fs.history[-1].notes)


# -- replicate recalibration ----------------------------------------------------------------
@pytest.mark.parametrize("name", [m.name for m in registry.methods(replicates=True,
                                                                    kind="targets")])
def test_replicates_declared_work(data, name):
    _, frame = data
    m = registry.method(name)
    s = Sample(frame, weight="w", cluster="psu").weight(name, _targets_for(m))
    e = s.estimate("y", variance="bootstrap", replicates=20, seed=1)
    assert np.isfinite(e["se"]).all() and (e["se"] > 0).all()
    j = s.estimate("y", variance="jackknife")
    assert (j["se"] > 0).all()


def test_trim_is_replayed_on_replicates(data):
    """Behaviour change (issue 17): a trim step is replayed on every replicate (its record's
    ``rows``) instead of being refused."""
    _, frame = data
    s = Sample(frame, weight="w", cluster="psu").rake(_oneway()).trim(upper_mult=1.5)
    e = s.estimate("y", variance="jackknife")
    assert np.isfinite(e["se"]).all() and (e["se"] > 0).all()
    # a bootstrap replicate holds about 63% of the PSUs at a higher mean weight: this cap
    # cannot hold its total over its rows
    with pytest.raises(InfeasibleError, match="replicate 1: trim limits"):
        s.estimate("y", variance="bootstrap", replicates=5, seed=1)
    e = Sample(frame, weight="w", cluster="psu").rake(_oneway()).trim(upper_mult=3.0).estimate(
        "y", variance="bootstrap", replicates=5, seed=1)
    assert np.isfinite(e["se"]).all() and (e["se"] > 0).all()


def test_replicates_refused_when_not_declared(data):
    _, frame = data
    s = Sample(frame, weight="w").rake(_oneway()).trim(upper_mult=1.5)
    registry.register(replace(registry.method("trim"), replicates=False))
    try:
        with pytest.raises(DataError, match=r"\['trim'\] cannot be replayed"):
            s.estimate("y", variance="bootstrap", replicates=5, seed=1)
    finally:
        registry.register(replace(registry.method("trim"), replicates=True))


# -- a method added as one module plus one registry entry -----------------------------------
def toy(sample: Sample, targets: Targets, *, tol: float = 1e-10, max_iter: int = 1000,
        missing: str = "error") -> Sample:
    """A test method: raking under another name (the module of this test is its module)."""
    d = _design.build(sample.frame, sample.weight_array, targets, missing=missing)
    sol = toy_cells(d, tol=tol, max_iter=max_iter, missing=missing)
    return sample.with_weights(d.row_weight * sol.g[d.row_cell], sol.step("toy", d), d.keep)


def toy_cells(problem, *, tol: float = 1e-10, max_iter: int = 1000, missing: str = "error"):
    return rake_cells(problem, tol=tol, max_iter=max_iter, missing=missing)


@pytest.fixture
def toy_method():
    rake = registry.method("rake")
    rec = registry.register(
        "toy", __name__, "toy", cells=f"{__name__}:toy_cells", kernel="ipf",
        options=tuple(o for o in rake.options if o.name in ("tol", "max_iter", "missing")),
        cli_flags=("--targets", "--tol"))
    yield rec
    del registry.METHODS["toy"]


def test_fewer_capabilities_are_refused(data, toy_method):
    d, frame = data
    s = Sample(frame, weight="w").weight("toy", _oneway())
    np.testing.assert_allclose(s.weight_array,
                               Sample(frame, weight="w").rake(_oneway()).weight_array,
                               rtol=1e-12, atol=0)
    with pytest.raises(DataError, match="'toy' does not support replicate weights"):
        s.estimate("y", variance="bootstrap", replicates=5, seed=1)
    with pytest.raises(DataError, match="'toy' is not available out of core"):
        FileSample.from_files(d / "p.parquet").weight("toy", _oneway())
    from calib.outofcore.solve import solve_cells

    fs_cells, _ = FileSample.from_files(d / "p.parquet").cell_table(
        ["sex", "age"], levels=_oneway().levels())
    with pytest.raises(DataError, match="not available out of core"):
        solve_cells(fs_cells, _oneway(), "toy")
    with pytest.raises(DataError, match="--cap does not apply to --method toy"):
        validate(WeightingOptions(targets=Path("t.csv"), method="toy", cap=2.0))
    assert validate(WeightingOptions(targets=Path("t.csv"), method="toy", tol=1e-9)).name == "toy"


def test_capabilities_granted_by_the_entry_alone(data, tmp_path, toy_method):
    d, frame = data
    registry.register(replace(toy_method, out_of_core=True, replicates=True))
    mem = Sample(frame, weight="w", cluster="psu").weight("toy", _oneway())
    fs = FileSample.from_files(d / "p.parquet", weight="w").weight("toy", _oneway())
    np.testing.assert_allclose(_file_weights(fs, frame, tmp_path, "toy"), mem.weight_array,
                               rtol=1e-12, atol=0)
    rk = Sample(frame, weight="w", cluster="psu").rake(_oneway())
    a = mem.estimate("y", variance="bootstrap", replicates=10, seed=2)
    b = rk.estimate("y", variance="bootstrap", replicates=10, seed=2)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-12)
    # linearization follows the kernel (ipf: raking residuals), as for rake
    np.testing.assert_allclose(mem.estimate("y")["se"], rk.estimate("y")["se"], rtol=1e-12)


# -- CLI flags ------------------------------------------------------------------------------
_VALUES = {"distance": "raking", "bounds": (0.5, 2.0), "cap": 3.0, "divergence": "kl",
           "population": 1000.0, "tol": 1e-8, "max_iter": 100, "missing": "drop",
           "targets": Path("t.csv"), "reference": Path("r.csv"), "reference_weight": "w",
           "penalty_c": 0.5, "variables": ("sex",)}


@pytest.mark.parametrize("name", registry.cli_methods())
def test_cli_flags_accepted_exactly_as_declared(name):
    m = registry.method(name)
    need = {"reference": Path("r.csv")} if m.kind == "reference" else {"targets": Path("t.csv")}
    for flag in OPTIONS:
        if flag in GENERIC_FLAGS or flag in need:
            continue
        opts = WeightingOptions(method=name, **{**need, flag: _VALUES[flag]})
        declared = "--" + flag.replace("_", "-") in m.cli_flags
        if declared:
            assert validate(opts) is m
        else:
            with pytest.raises(DataError, match=f"--{flag.replace('_', '-')}"):
                validate(opts)


def test_cli_out_of_core_refuses_what_the_registry_refuses(data, tmp_path, capsys):
    d, _ = data
    _oneway().to_frame().to_csv(tmp_path / "t.csv", index=False)
    base = ["weight", str(d / "p.parquet"), "--targets", str(tmp_path / "t.csv"),
            "--engine", "duckdb", "--out", str(tmp_path / "o.parquet")]
    # behaviour change: no --method was raked out of core; it is refused as in memory
    assert main(base) != 0
    assert "--method is missing" in capsys.readouterr().err
    assert main(["weight", str(d / "p.parquet"), "--targets", str(tmp_path / "t.csv"),
                 "--out", str(tmp_path / "m.parquet")]) != 0
    assert "--method is missing" in capsys.readouterr().err
    for m in registry.methods(out_of_core=False):
        if m.kind == "targets":
            assert main([*base, "--method", m.name]) != 0
            assert "is not available with --engine duckdb" in capsys.readouterr().err
    assert main([*base, "--method", "rake", "--cap", "3"]) != 0
    assert "--cap is not available with --engine duckdb" in capsys.readouterr().err
    assert main([*base, "--method", "rake", "--trim", "3"]) != 0
    assert "--trim is not available" in capsys.readouterr().err
    assert main([*base, "--method", "calibrate", "--bounds", "0.2", "5"]) == 0
    capsys.readouterr()


def test_cli_propensity_refuses_targets(tmp_path, capsys):
    """Behaviour change: --targets with --method propensity was read and ignored."""
    with pytest.raises(DataError, match="--targets does not apply to --method propensity"):
        validate(WeightingOptions(method="propensity", reference=Path("r.csv"),
                                  targets=Path("t.csv")))


def test_registered_method_reaches_the_cli(toy_method):
    assert "toy" in registry.cli_methods()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert validate(WeightingOptions(method="toy", targets=Path("t.csv"))) is toy_method


# -- the docs table -------------------------------------------------------------------------
def test_design_doc_table_is_the_registry():
    text = (ROOT / "docs" / "design.md").read_text()
    found = re.search(r"<!-- registry-table:start -->\n(.*?)<!-- registry-table:end -->", text,
                      re.S)
    assert found, "docs/design.md lacks the registry table markers"
    assert found.group(1) == registry.markdown(), (
        "docs/design.md's capability table differs from the registry; regenerate it with "
        "`python tools/registry_table.py`")


def test_cli_several_files_in_memory_take_the_in_memory_flags(data, tmp_path, capsys):
    """Behaviour change: several files with --engine memory dropped --cap/--divergence (and
    --trim, --method) silently; now the method gets its flags, and --trim is refused."""
    _, frame = data
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(tmp_path / "a.parquet", index=False)
    frame.iloc[half:].to_parquet(tmp_path / "b.parquet", index=False)
    _oneway().to_frame().to_csv(tmp_path / "t.csv", index=False)
    base = ["weight", str(tmp_path / "*.parquet"), "--targets", str(tmp_path / "t.csv"),
            "--engine", "memory", "--base-weight", "w"]
    out = tmp_path / "o.parquet"
    assert main([*base, "--method", "rake", "--cap", "2.5", "--out", str(out)]) == 0
    capsys.readouterr()
    mem = Sample(frame, weight="w").rake(_oneway(None), cap=2.5).weight_array
    assert mem.max() < 2.5 * mem.mean() * (1 + 1e-9)  # the cap binds
    assert not np.allclose(mem, Sample(frame, weight="w").rake(_oneway(None)).weight_array)
    np.testing.assert_allclose(pd.read_parquet(out)["weight"], mem, rtol=1e-12, atol=0)
    assert main([*base, "--method", "rake", "--trim", "3", "--out",
                 str(tmp_path / "x.parquet")]) != 0
    assert "--trim with several input files" in capsys.readouterr().err
