"""Save and load MRP fits: the posterior as Zarr, the rest in a JSON sidecar.

``calib.persist`` (the old path of every saver) is this module: it re-exports the sample and
replicate-weight savers of :mod:`calib.estimation.persist`, so all five names stay together.

Examples
--------
>>> callable(save_fit) and callable(load_fit)
True
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from calib.core.cells import CellTable
from calib.core.errors import DataError
from calib.data.output import Staged, atomic_dir, check_target
from calib.data.persist import check_free, json_default, json_safe, read_sidecar, sidecar, version
from calib.estimation.persist import load_sample, save_replicates, save_sample
from calib.mrp.model import MRPFit
from calib.mrp.spec import ModelSpec, Term

FIT_FORMAT = "calib-mrpfit/1"


def save_fit(fit: MRPFit, path: str | Path, *, overwrite: bool = False) -> Path:
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
    side = sidecar(path)
    check_target(path, overwrite, "fit store", kind="store", store_marker=is_fit_store,
                 make_parents=True)
    check_free([side], overwrite)
    spec = fit.spec
    cells = fit.cells
    meta = {
        "format": FIT_FORMAT,
        "calib_version": version(),
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
        "options": json.loads(json.dumps(dict(fit.options), default=json_safe)),
    }
    text = json.dumps(meta, default=json_default)
    # the store is written to a temporary folder and renamed; overwrite replaces only a folder
    # that is a calib fit store (its sidecar says so), never another folder
    with Staged(overwrite=overwrite, what="fit sidecar") as st:
        st.path(side).write_text(text)
        with atomic_dir(path, overwrite=overwrite, is_store=is_fit_store,
                        what="fit store") as tmp:
            fit.idata.to_zarr(str(tmp), mode="w", consolidated=False)
    return path


def is_fit_store(path: str | Path) -> bool:
    """True for a folder written by :func:`save_fit` (its sidecar has the fit format).

    >>> import tempfile
    >>> is_fit_store(tempfile.mkdtemp())
    False
    """
    p = Path(path)
    side = sidecar(p)
    if not (p.is_dir() and side.is_file()):
        return False
    try:
        return json.loads(side.read_text()).get("format") == FIT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def load_fit(path: str | Path) -> MRPFit:
    """Read an MRPFit written by :func:`save_fit` (posterior, spec, cells, diagnostics).

    Examples
    --------
    >>> load_fit.__name__
    'load_fit'
    """
    import xarray as xr  # deferred: loading xarray costs a second, only fits need it

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such store; write fits with calib.mrp.store.save_fit")
    meta = read_sidecar(path, FIT_FORMAT, "calib.mrp.store.save_fit")
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




__all__ = ["save_sample", "load_sample", "save_fit", "load_fit", "save_replicates",
           "is_fit_store"]
