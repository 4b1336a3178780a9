"""Save and load weighted samples, MRP fits and replicate weights.

A weighted :class:`~calib.Sample` is written as Parquet (the frame plus ``weight`` and
``base_weight`` columns) with a JSON sidecar ``<path>.json`` that records the weighting
history, the resolved targets of every step and the design columns. :func:`load_sample`
rebuilds the Sample from the base weights and *re-applies* every recorded step, so the
calibration metadata (needed for calibration-aware standard errors) exists again; the
re-derived weights must match the stored ``weight`` column to 1e-10, else a
:class:`~calib.core.errors.DataError` is raised.

Examples
--------
>>> import tempfile, pathlib
>>> import pandas as pd
>>> from calib import Sample, Targets
>>> df = pd.DataFrame({"sex": ["F"] * 3 + ["M"] * 7, "y": range(10)})
>>> t = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
...                                      "total": [50.0, 50.0]}))
>>> s = Sample(df).rake(t)
>>> p = pathlib.Path(tempfile.mkdtemp()) / "s.parquet"
>>> back = load_sample(save_sample(s, p))
>>> bool(abs(back.weight_array - s.weight_array).max() < 1e-10), back.method
(True, 'rake')
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calib.core.errors import CalibError, DataError
from calib.core.literals import ReplicateMethod
from calib.core.sample import Sample

FORMAT = "calib-sample/1"
FIT_FORMAT = "calib-mrpfit/1"

#: options each replayable method accepts (outputs such as ``trimmed`` are left out).
_REPLAY = {
    "rake": ("tol", "max_iter", "cap", "missing"),
    "poststratify": ("collapse", "missing"),
    "calibrate": ("distance", "bounds", "tol", "max_iter", "trim", "missing"),
    "trim": ("upper", "lower", "strict", "redistribute"),
}
_RESERVED = ("weight", "base_weight")


def _version() -> str:
    from calib import __version__

    return __version__


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _check_free(paths: list[Path], overwrite: bool) -> None:
    if overwrite:
        return
    for p in paths:
        if p.exists():
            raise CalibError(f"{p} already exists; pass overwrite=True to replace it")


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


def save_sample(sample: Sample, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a (weighted) Sample as Parquet plus a JSON sidecar ``<path>.json``.

    Parameters
    ----------
    sample : the Sample; every step of its history must be replayable (``rake``,
        ``poststratify``, ``calibrate``, ``trim``).
    path : the Parquet file to write.
    overwrite : replace existing files (refused otherwise).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "u.parquet"
    >>> save_sample(Sample(pd.DataFrame({"x": [1, 2]})), p).name
    'u.parquet'
    >>> sorted(q.name for q in p.parent.iterdir())
    ['u.parquet', 'u.parquet.json']
    """
    path = Path(path)
    side = _sidecar(path)
    clash = [c for c in _RESERVED if c in sample.frame.columns]
    if clash:
        raise DataError(
            f"column(s) {clash} of the sample clash with the stored weight columns; "
            "rename them before saving"
        )
    steps = []
    for i, st in enumerate(sample.history):
        if st.method not in _REPLAY:
            raise DataError(
                f"step {i + 1} ({st.method!r}) cannot be replayed on load; save_sample "
                f"supports {sorted(_REPLAY)}: save the weights as a base weight column instead"
            )
        rec = st.summary()
        rec["replay"] = {k: st.options[k] for k in _REPLAY[st.method] if k in st.options}
        rec["targets"] = None
        if st.targets is not None:
            tf = st.targets.to_frame()
            rec["targets"] = json.loads(tf.to_json(orient="records"))
            rec["population"] = st.targets.population
        steps.append(rec)
    meta = {
        "format": FORMAT,
        "calib_version": _version(),
        "method": sample.method,
        "options": steps[-1]["options"] if steps else {},
        "history": steps,
        "strata": sample.strata,
        "cluster": sample.cluster,
        "weight_name": sample.weight_name,
        "n": sample.n,
    }
    text = json.dumps(meta, default=_json_default, indent=1)
    _check_free([path, side], overwrite)
    out = sample.frame.copy()
    out["weight"] = sample.weight_array
    out["base_weight"] = sample.base_weights.to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path)
    side.write_text(text)
    return path


def _replay_options(method: str, opts: dict[str, Any]) -> dict[str, Any]:
    o = dict(opts)
    if "bounds" in o and o["bounds"] is not None:
        o["bounds"] = tuple(float(b) for b in o["bounds"])
    if "trim" in o and o["trim"] is not None:
        o["trim"] = tuple(float(b) for b in o["trim"])
    if method == "rake":
        # a stored non-converged step is replayed the same way (it warned when saved)
        o["allow_nonconvergence"] = True
    return o


def load_sample(path: str | Path) -> Sample:
    """Read a Sample written by :func:`save_sample` and re-apply its weighting steps.

    Parameters
    ----------
    path : the Parquet file (its sidecar ``<path>.json`` must be next to it).

    Returns
    -------
    Sample
        With the stored base weights and the same history, calibration metadata included.

    Raises
    ------
    DataError
        When the sidecar is missing or of another format, or when the re-derived weights
        differ from the stored ``weight`` column by more than 1e-10 (relative).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "u.parquet"
    >>> load_sample(save_sample(Sample(pd.DataFrame({"x": [1, 2]}), weight=[1.0, 3.0]), p)).weights.tolist()
    [1.0, 3.0]
    """
    from calib.core.targets import Targets

    path = Path(path)
    side = _sidecar(path)
    if not side.exists():
        raise DataError(f"{path}: no sidecar {side.name}; write samples with calib.data.persist.save_sample")
    meta = json.loads(side.read_text())
    if meta.get("format") != FORMAT:
        raise DataError(f"{side}: format {meta.get('format')!r}, expected {FORMAT!r}")
    df = pd.read_parquet(path)
    for c in _RESERVED:
        if c not in df.columns:
            raise DataError(f"{path}: column {c!r} is missing; the file was not written by save_sample")
    stored = df["weight"].to_numpy(dtype=float)
    base = df["base_weight"].to_numpy(dtype=float)
    frame = df.drop(columns=list(_RESERVED))
    s = Sample(frame, weight=base, strata=meta.get("strata"), cluster=meta.get("cluster"))
    s.weight_name = meta.get("weight_name")
    for i, st in enumerate(meta["history"]):
        opts = _replay_options(st["method"], st.get("replay", {}))
        if st["method"] == "trim":
            s = s.trim(**opts)
            continue
        tf = pd.DataFrame.from_records(st["targets"])
        if "level" in tf.columns:
            tf["level"] = tf["level"].fillna("").astype(str)
        t = Targets.from_frame(tf, population=st.get("population"))
        s = s.weight(st["method"], t, **opts)
        if s.n != len(stored):
            raise DataError(f"{path}: replaying step {i + 1} ({st['method']}) kept {s.n} of "
                            f"{len(stored)} rows; the stored sample and its history disagree")
    w = s.weight_array
    scale = np.maximum(np.abs(stored), 1.0)
    diff = np.abs(w - stored) / scale
    if not np.all(np.isfinite(diff)) or (diff.size and float(diff.max()) > 1e-10):
        j = int(np.nanargmax(diff))
        raise DataError(
            f"{path}: re-applying the recorded steps ({' -> '.join(x['method'] for x in meta['history'])}) "
            f"gives weights that differ from the stored 'weight' column (row {frame.index[j]!r}: "
            f"{w[j]!r} vs stored {stored[j]!r}); the file or the targets were edited, or calib "
            f"{meta.get('calib_version')} solved differently: re-weight from the base weights"
        )
    return s


# -- MRP fits ---------------------------------------------------------------------------
def save_fit(fit: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a :class:`calib.mrp.MRPFit`: the ArviZ DataTree as Zarr plus ``<path>.json``.

    The posterior is stored in ArviZ's own (xarray DataTree) format with ``to_zarr``
    (netCDF would need ``netCDF4`` or ``h5netcdf``, which are not dependencies); the JSON
    sidecar holds the model spec, the cell table, the diagnostics and the options.

    Parameters
    ----------
    fit : the MRPFit.
    path : the Zarr store (a directory) to write.
    overwrite : replace an existing store and sidecar.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> callable(save_fit) and callable(load_fit)
    True
    """
    path = Path(path)
    side = _sidecar(path)
    _check_free([path, side], overwrite)
    spec = fit.spec
    cells = fit.cells
    meta = {
        "format": FIT_FORMAT,
        "calib_version": _version(),
        "spec": {
            "outcome": spec.outcome,
            "family": spec.family,
            "outcome_levels": list(spec.outcome_levels),
            "terms": [asdict(t) for t in spec.terms],
            "variable_levels": {k: list(v) for k, v in spec.variable_levels.items()},
            "domain_table": {
                k: {"index_name": v.index.name, "index": [str(i) for i in v.index],
                    "columns": json.loads(v.to_json(orient="split", index=False))}
                for k, v in spec.domain_table.items()
            },
        },
        "cells": {
            "variables": list(cells.variables),
            "levels": {k: list(v) for k, v in cells.levels.items()},
            "keys": cells.keys.tolist(),
            "count": cells.count.tolist(),
            "weight": cells.weight.tolist(),
            "sums": {k: np.asarray(v).tolist() for k, v in cells.sums.items()},
        },
        "diagnostics": json.loads(fit.diagnostics.to_json(orient="split")),
        "options": json.loads(json.dumps(dict(fit.options), default=_safe)),
    }
    text = json.dumps(meta, default=_json_default)
    if path.exists() and overwrite:
        import shutil

        shutil.rmtree(path) if path.is_dir() else path.unlink()
    fit.idata.to_zarr(str(path), mode="w", consolidated=False)
    side.write_text(text)
    return path


def _safe(v: Any) -> Any:
    try:
        return _json_default(v)
    except TypeError:
        return repr(v)


def load_fit(path: str | Path) -> Any:
    """Read an MRPFit written by :func:`save_fit` (posterior, spec, cells, diagnostics).

    Examples
    --------
    >>> load_fit.__name__
    'load_fit'
    """
    import xarray as xr

    from calib.core.cells import CellTable
    from calib.mrp.model import MRPFit
    from calib.mrp.spec import ModelSpec, Term

    path = Path(path)
    side = _sidecar(path)
    if not side.exists() or not path.exists():
        raise DataError(f"{path}: store or sidecar {side.name} missing; write fits with save_fit")
    meta = json.loads(side.read_text())
    if meta.get("format") != FIT_FORMAT:
        raise DataError(f"{side}: format {meta.get('format')!r}, expected {FIT_FORMAT!r}")
    idata = xr.open_datatree(str(path), engine="zarr", consolidated=False).load()
    sp = meta["spec"]
    terms = tuple(
        Term(**{**t, "variables": tuple(t["variables"]), "levels": tuple(t["levels"])})
        for t in sp["terms"]
    )
    dom = {}
    for k, v in sp["domain_table"].items():
        d = pd.DataFrame(v["columns"]["data"], columns=v["columns"]["columns"])
        d.index = pd.Index(v["index"], name=v["index_name"])
        dom[k] = d
    spec = ModelSpec(
        outcome=sp["outcome"],
        family=sp["family"],
        outcome_levels=tuple(sp["outcome_levels"]),
        terms=terms,
        variable_levels={k: tuple(v) for k, v in sp["variable_levels"].items()},
        domain_table=dom,
    )
    c = meta["cells"]
    k = len(c["variables"])
    cells = CellTable(
        variables=tuple(c["variables"]),
        levels={kk: tuple(v) for kk, v in c["levels"].items()},
        keys=np.asarray(c["keys"], dtype=np.int64).reshape(-1, k),
        count=np.asarray(c["count"]),
        weight=np.asarray(c["weight"], dtype=float),
        sums={kk: np.asarray(v, dtype=float) for kk, v in c["sums"].items()},
    )
    dg = meta["diagnostics"]
    diag = pd.DataFrame(dg["data"], columns=dg["columns"], index=dg["index"])
    return MRPFit(idata=idata, cells=cells, spec=spec, diagnostics=diag, options=meta["options"])


# -- replicate weights -------------------------------------------------------------------
def save_replicates(
    sample: Sample,
    path: str | Path,
    method: ReplicateMethod = "bootstrap",
    replicates: int = 200,
    seed: int | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write :func:`calib.estimation.replicate_weights` as Parquet (``rep_1 .. rep_R``).

    The R ``svrepdesign`` arguments (``type``, ``scale``, ``rscales``, ``mse``) go into the
    Parquet file's metadata and a JSON sidecar ``<path>.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.parquet"
    >>> s = Sample(pd.DataFrame({"y": [1, 2, 3]}))
    >>> pd.read_parquet(save_replicates(s, p, "jackknife")).shape
    (3, 3)
    """
    from calib.estimation import replicate_weights

    path = Path(path)
    side = _sidecar(path)
    _check_free([path, side], overwrite)
    rw = replicate_weights(sample, method, replicates, seed)
    attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rw.attrs.items()}
    meta = {"format": "calib-replicates/1", "calib_version": _version(), "method": method,
            "replicates": int(rw.shape[1]), "seed": seed, "attrs": attrs}
    path.parent.mkdir(parents=True, exist_ok=True)
    out = pd.DataFrame(rw.to_numpy(), index=rw.index, columns=[str(c) for c in rw.columns])
    out.to_parquet(path)
    side.write_text(json.dumps(meta, default=_safe, allow_nan=True))
    return path


__all__ = ["save_sample", "load_sample", "save_fit", "load_fit", "save_replicates"]
