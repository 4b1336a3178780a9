"""The raking contenders of the weighting benchmark, one entry per method.

Every contender is a pair ``(setup, run)``: ``setup(df, shares, total)`` converts the benchmark
frame to what the method takes (untimed: a polars frame for svy, numpy arrays for samplics) and
``run(state)`` does the weighting (timed) and returns one weight per row, in row order. The
targets are population totals ``share * total``; every method is asked for its tightest
convergence so that the weights can be compared with calib's.

``LADDER`` names them in table order. A contender whose package or calib module is missing
raises :class:`Unavailable` from ``setup``; the benchmark prints that in the table.

Examples
--------
>>> from bench.synth import make_sample
>>> df, sh = make_sample(3_000, seed=3)
>>> w = run_one("floor", df, sh, 3_000.0)
>>> round(float(w.sum()), 6)
3000.0
"""

from __future__ import annotations

import importlib.util
import io
import logging
import warnings
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import numpy as np
import pandas as pd

from .synth import VARIABLES

#: Logit bounds on g = w / d used for the bounded calibration contenders (calib and R).
LOGIT_BOUNDS: tuple[float, float] = (0.1, 10.0)


class Unavailable(RuntimeError):
    """The contender cannot run here (package or calib module missing)."""


def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise Unavailable(f"{module} is not installed / not written yet")


# -- calib ----------------------------------------------------------------------------------


def _calib_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    from calib import Sample, Targets

    from .synth import targets_frame

    return Sample(df), Targets.from_frame(targets_frame(shares), population=total)


def _calib_rake(state: Any) -> np.ndarray:
    s, t = state
    return s.rake(t, tol=1e-10).weight_array


def _calib_cal_raking(state: Any) -> np.ndarray:
    s, t = state
    return s.calibrate(t, distance="raking", tol=1e-10, max_iter=100).weight_array


def _calib_cal_logit(state: Any) -> np.ndarray:
    s, t = state
    return s.calibrate(
        t, distance="logit", bounds=LOGIT_BOUNDS, tol=1e-10, max_iter=100
    ).weight_array


def _calib_optimal_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    _need("calib.weighting.optimal")
    return _calib_setup(df, shares, total)


def _calib_calibrate_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    _need("calib.weighting.calibrate")
    return _calib_setup(df, shares, total)


def _calib_optimal(state: Any) -> np.ndarray:
    s, t = state
    return s.optimal(t, divergence="kl").weight_array


# -- the floor: bare numpy cell IPF ---------------------------------------------------------


def _floor_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    return df, [np.asarray(list(shares[v].values())) * total for v in VARIABLES]


def floor_ipf(df: pd.DataFrame, totals: list[np.ndarray], tol: float = 1e-10) -> np.ndarray:
    """Bare numpy raking on cells: categorical codes -> flat cell -> bincount -> IPF -> take.

    No checks at all (no missing values, no unknown levels, no empty cells): the floor any cell
    engine pays. ``df`` columns must be pandas categoricals in target level order.
    """
    codes = [df[v].array.codes for v in VARIABLES]
    shape = tuple(t.size for t in totals)
    flat = np.ravel_multi_index(codes, shape)
    count = np.bincount(flat, minlength=int(np.prod(shape)))
    occ = np.flatnonzero(count)
    lookup = np.zeros(count.size, dtype=np.intp)
    lookup[occ] = np.arange(occ.size)
    row_cell = lookup[flat]
    keys = np.unravel_index(occ, shape)
    w0 = count[occ].astype(float)
    w = w0.copy()
    for _ in range(1000):
        for k, t in zip(keys, totals, strict=True):
            w *= (t / np.bincount(k, weights=w, minlength=t.size))[k]
        err = max(
            float(np.max(np.abs(np.bincount(k, weights=w, minlength=t.size) / t - 1)))
            for k, t in zip(keys, totals, strict=True)
        )
        if err < tol:
            break
    return (w / w0)[row_cell]


def _floor_run(state: Any) -> np.ndarray:
    df, totals = state
    return floor_ipf(df, totals)


# -- peers ----------------------------------------------------------------------------------


def _balance_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    _need("balance")
    logging.getLogger("balance").setLevel(logging.ERROR)
    import itertools

    # the target as a weighted frame over every combination of levels (product of the
    # shares): its margins are exactly the targets (balance's own target_margins helper
    # rounds the shares to at most 10,000 synthetic rows)
    levels = [list(shares[v]) for v in VARIABLES]
    combos = pd.DataFrame(list(itertools.product(*levels)), columns=list(VARIABLES))
    tw = np.ones(len(combos))
    for v in VARIABLES:
        tw = tw * combos[v].map(shares[v]).to_numpy(dtype=float)
    sdf = df.astype({v: object for v in VARIABLES}).astype(str)
    tdf = combos.astype(str)
    return sdf, tdf, pd.Series(tw * total)


def _balance_run(state: Any) -> np.ndarray:
    from balance.weighting_methods.rake import rake

    sdf, tdf, tw = state
    out = rake(
        sdf,
        pd.Series(np.ones(len(sdf))),
        tdf,
        tw,
        variables=list(VARIABLES),
        transformations=None,
        convergence_rate=1e-10,
        rate_tolerance=0.0,
        max_iteration=1000,
    )
    return np.asarray(out["weight"], dtype=float)


def _samplics_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    _need("samplics")
    margins = {v: np.asarray(df[v].astype(str)) for v in VARIABLES}
    control = {v: {lv: s * total for lv, s in shares[v].items()} for v in VARIABLES}
    return margins, control, len(df)


def _samplics_run(state: Any) -> np.ndarray:
    from samplics.weighting import SampleWeight

    margins, control, n = state
    with redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(
            SampleWeight().rake(
                np.ones(n), margins, control=control, tol=1e-8, ctrl_tol=1e-8, max_iter=1000
            ),
            dtype=float,
        )


def _svy_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    _need("svy")
    import polars as pl

    data = pl.DataFrame({v: df[v].astype(str).to_numpy() for v in VARIABLES}).with_columns(
        pl.lit(1.0).alias("w")
    )
    controls = {v: {lv: s * total for lv, s in shares[v].items()} for v in VARIABLES}
    return data, controls


def _svy_run(state: Any) -> np.ndarray:
    import svy

    data, controls = state
    s = svy.Sample(data, svy.Design(wgt="w"))
    out = s.weighting.rake(controls=controls, tol=1e-10, max_iter=1000)
    return out.data.get_column("rk_wgt").to_numpy().astype(float)


def _weightipy_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    _need("weightipy")
    import weightipy as wp

    scheme = wp.scheme_from_dict(
        {v: {lv: 100.0 * s for lv, s in shares[v].items()} for v in VARIABLES}
    )
    return df.copy(), scheme, total


def _weightipy_run(state: Any) -> np.ndarray:
    import weightipy as wp

    df, scheme, total = state
    with redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = np.asarray(wp.weight(df, scheme), dtype=float)
    return w * (total / w.sum())  # weightipy weights average 1: scale to the population


def _ipfn_setup(df: pd.DataFrame, shares: dict, total: float) -> Any:
    _need("ipfn")
    return df, [np.asarray(list(shares[v].values())) * total for v in VARIABLES]


def _ipfn_run(state: Any) -> np.ndarray:
    from ipfn.ipfn import ipfn

    df, totals = state
    # ipfn's numpy path rakes a dense cross-tab: building it (and mapping back) is timed
    codes = [df[v].array.codes for v in VARIABLES]
    shape = tuple(t.size for t in totals)
    flat = np.ravel_multi_index(codes, shape)
    xtab = np.bincount(flat, minlength=int(np.prod(shape))).astype(float).reshape(shape)
    fitted = ipfn(
        xtab.copy(),
        list(totals),
        [[i] for i in range(len(shape))],
        convergence_rate=1e-10,
        max_iteration=1000,
        rate_tolerance=0.0,
    ).iteration()
    g = np.divide(fitted, xtab, out=np.zeros_like(xtab), where=xtab > 0).ravel()
    return g[flat]


Setup = Callable[[pd.DataFrame, dict, float], Any]
Run = Callable[[Any], np.ndarray]

#: name -> (setup, run, description), in table order.
CONTENDERS: dict[str, tuple[Setup, Run, str]] = {
    "calib rake": (_calib_setup, _calib_rake, "calib Sample.rake (IPF on cells), tol 1e-10"),
    "calib calibrate raking": (
        _calib_calibrate_setup,
        _calib_cal_raking,
        "calib calibrate(distance='raking'), tol 1e-10",
    ),
    "calib calibrate logit": (
        _calib_calibrate_setup,
        _calib_cal_logit,
        f"calib calibrate(distance='logit', bounds={LOGIT_BOUNDS}), tol 1e-10",
    ),
    "calib optimal KL": (
        _calib_optimal_setup,
        _calib_optimal,
        "calib optimal(divergence='kl') (cvxpy, Clarabel)",
    ),
    "floor": (_floor_setup, _floor_run, "bare numpy cell IPF (no checks)"),
    "balance": (_balance_setup, _balance_run, "balance 0.23 rake(), convergence_rate 1e-10"),
    "samplics": (
        _samplics_setup,
        _samplics_run,
        "samplics SampleWeight().rake, tol 1e-8, 1000 iter",
    ),
    "svy": (_svy_setup, _svy_run, "svy Sample.weighting.rake, tol 1e-10"),
    "weightipy": (_weightipy_setup, _weightipy_run, "weightipy.weight (Rim, default convcrit)"),
    "ipfn": (_ipfn_setup, _ipfn_run, "ipfn numpy path on a dense cross-tab (built in time)"),
}


def run_one(name: str, df: pd.DataFrame, shares: dict, total: float) -> np.ndarray:
    """Set up and run one contender (untimed convenience for tests and checks)."""
    setup, run, _ = CONTENDERS[name]
    return run(setup(df, shares, total))


__all__ = ["CONTENDERS", "LOGIT_BOUNDS", "Unavailable", "floor_ipf", "run_one"]
