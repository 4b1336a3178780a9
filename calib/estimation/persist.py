"""Save and load weighted samples and their replicate weights.

A weighted :class:`~calib.Sample` is written as Parquet (the frame plus ``weight`` and
``base_weight`` columns) with a JSON sidecar ``<path>.json`` that records the weighting
history, the resolved targets of every step and the design columns. :func:`load_sample`
rebuilds the Sample from the base weights and *re-applies* every recorded step, so the
calibration metadata (needed for calibration-aware standard errors) exists again; the
re-derived weights must match the stored ``weight`` column to 1e-10, else a
:class:`~calib.core.errors.DataError` is raised. The sidecar helpers are in
:mod:`calib.data.persist`; MRP fits are stored by :mod:`calib.mrp.store`.

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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.core.literals import ReplicateMethod
from calib.core.sample import Sample
from calib.core.targets import Targets
from calib.data.output import Staged
from calib.data.persist import check_free, json_default, json_safe, read_sidecar, sidecar, version
from calib.estimation.replicates import replicate_weights
from calib.estimation.request import EstimateRequest
from calib.estimation.rhandoff import handoff_frame, r_script
from calib.weighting import registry

FORMAT = "calib-sample/1"



def replayable() -> dict[str, tuple[str, ...]]:
    """Options each replayable method stores, as its registry record declares (``replay``).

    Outputs such as ``trimmed`` are left out.

    >>> replayable()["rake"]
    ('tol', 'max_iter', 'cap', 'missing')
    """
    return {m.name: m.replay for m in registry.methods() if m.replay}

_RESERVED = ("weight", "base_weight")


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
    side = sidecar(path)
    clash = [c for c in _RESERVED if c in sample.frame.columns]
    if clash:
        raise DataError(
            f"column(s) {clash} of the sample clash with the stored weight columns; "
            "rename them before saving"
        )
    steps = []
    for i, st in enumerate(sample.history):
        replay = replayable()
        if st.method not in replay:
            raise DataError(
                f"step {i + 1} ({st.method!r}) cannot be replayed on load; save_sample "
                f"supports {sorted(replay)}: save the weights as a base weight column instead"
            )
        rec = st.summary()
        rec["replay"] = {k: st.options[k] for k in replay[st.method] if k in st.options}
        rec["targets"] = None
        if st.targets is not None:
            tf = st.targets.to_frame()
            rec["targets"] = json.loads(tf.to_json(orient="records"))
            rec["population"] = st.targets.population
        steps.append(rec)
    meta = {
        "format": FORMAT,
        "calib_version": version(),
        "method": sample.method,
        "options": steps[-1]["options"] if steps else {},
        "history": steps,
        "strata": sample.strata,
        "cluster": sample.cluster,
        "weight_name": sample.weight_name,
        "n": sample.n,
    }
    text = json.dumps(meta, default=json_default, indent=1)
    check_free([path, side], overwrite)
    out = sample.frame.copy()
    out["weight"] = sample.weight_array
    out["base_weight"] = sample.base_weights.to_numpy()
    with Staged(overwrite=overwrite) as st:  # both files published together, or neither
        out.to_parquet(st.path(path))
        st.path(side).write_text(text)
    return path


def _replay_options(method: str, opts: dict[str, Any]) -> dict[str, Any]:
    o = dict(opts)
    if "bounds" in o and o["bounds"] is not None:
        o["bounds"] = tuple(float(b) for b in o["bounds"])
    if "trim" in o and o["trim"] is not None:
        o["trim"] = tuple(float(b) for b in o["trim"])
    if registry.method(method).allow_nonconvergence:
        # a stored non-converged step is replayed the same way (it warned when saved)
        o["allow_nonconvergence"] = True
    return o


def _base_sample(path: Path, frame: pd.DataFrame, base: np.ndarray, meta: dict[str, Any]) -> Sample:
    """The unweighted Sample a stored one started from, built in one go (Sample is immutable).

    A sample built from a weight column is rebuilt from that column (so it keeps its
    ``weight_name``), which must still give the stored base weights.
    """
    design = {"strata": meta.get("strata"), "cluster": meta.get("cluster")}
    name = meta.get("weight_name")
    if name is None or name not in frame.columns:
        return Sample(frame, weight=base, **design)
    s = Sample(frame, weight=name, **design)
    if not np.array_equal(s.weight_array, base):
        raise DataError(f"{path}: the weight column {name!r} no longer gives the stored base "
                        "weights; the file was edited: re-weight from the base weights")
    return s


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
    path = Path(path)
    meta = read_sidecar(path, FORMAT, "calib.estimation.persist.save_sample")
    df = pd.read_parquet(path)
    for c in _RESERVED:
        if c not in df.columns:
            raise DataError(f"{path}: column {c!r} is missing; the file was not written by save_sample")
    stored = df["weight"].to_numpy(dtype=float)
    base = df["base_weight"].to_numpy(dtype=float)
    frame = df.drop(columns=list(_RESERVED))
    s = _base_sample(path, frame, base, meta)
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


# -- replicate weights -------------------------------------------------------------------
def save_replicates(
    sample: Sample,
    path: str | Path,
    method: ReplicateMethod = "bootstrap",
    replicates: int = 200,
    seed: int | None = None,
    *,
    overwrite: bool = False,
    request: EstimateRequest | None = None,
    id: str | None = None,  # noqa: A002 - the CLI's --id
) -> Path:
    """Write :func:`calib.estimation.replicate_weights` as CSV or Parquet (by extension).

    Without ``request`` the file holds ``rep_1 .. rep_R`` only. With it (the R hand-off of
    ``calib estimate --replicates-out``) the columns are ``id`` (the ``id`` column, else the
    1-based row number), ``weight`` (full sample), the outcome, by, strata and cluster columns,
    then ``rep_1 .. rep_R`` (:func:`calib.estimation.rhandoff.handoff_frame`), and an R script
    ``<path>.R`` (base R + survey) rebuilds the design and prints the estimate and SE. The R
    ``svrepdesign`` arguments (``type``, ``scale``, ``rscales``, ``mse``) also go into a JSON
    sidecar ``<path>.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from calib.estimation import EstimateRequest
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> s = Sample(pd.DataFrame({"y": [1, 2, 3]}))
    >>> pd.read_parquet(save_replicates(s, d / "r.parquet", "jackknife")).shape
    (3, 3)
    >>> p = save_replicates(s, d / "r.csv", "jackknife", request=EstimateRequest("y"))
    >>> pd.read_csv(p).columns.tolist(), (d / "r.csv.R").exists()
    (['id', 'weight', 'y', 'rep_1', 'rep_2', 'rep_3'], True)
    """
    path = Path(path)
    side = sidecar(path)
    script = path.with_name(path.name + ".R")
    kind = path.suffix.lower()
    if kind not in (".csv", ".parquet", ".pq"):
        raise DataError(f"replicate file {str(path)!r}: unknown extension {kind or '(none)'!r}; "
                        "use .csv (R reads it without extra packages) or .parquet")
    check_free([path, side] + ([script] if request is not None else []), overwrite)
    rw = replicate_weights(sample, method, replicates, seed)
    attrs = {str(k): (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in rw.attrs.items()}
    meta = {"format": "calib-replicates/1", "calib_version": version(), "method": method,
            "replicates": int(rw.shape[1]), "seed": seed, "attrs": attrs}
    if request is not None:
        out = handoff_frame(sample, rw, request, id)
        col = sample.frame[request.outcome]
        # the rule of calib.estimation.domains: bools and plain numbers are numeric outcomes
        categorical = not (pd.api.types.is_bool_dtype(col) or (
            pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype)))
        text = r_script(path, attrs, request, categorical=categorical)
    else:
        out = pd.DataFrame(rw.to_numpy(), index=rw.index, columns=[str(c) for c in rw.columns])
    with Staged(overwrite=overwrite) as st:  # the files are published together, or none
        if kind == ".csv":
            out.to_csv(st.path(path), index=False)
        else:
            out.to_parquet(st.path(path), index=request is None)
        st.path(side).write_text(json.dumps(meta, default=json_safe, allow_nan=True))
        if request is not None:
            st.path(script).write_text(text)
    return path


__all__ = ["save_sample", "load_sample", "save_replicates"]
