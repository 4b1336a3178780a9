"""Linearized (Taylor) variance that accounts for the calibration steps, as R survey does.

The influence values ``x_i = w_i z_i`` of an estimate (``z = y`` for a total, ``(y - ybar)/N``
for a mean, zero outside the domain) are replaced, step by step in the order the sample was
weighted, by their residuals from the calibration regressions, exactly as R survey's
``svyrecvar`` handles the ``postStrata`` a design stores:

* **poststratify / calibrate** (R ``postStratify``, ``calibrate``): with ``w_in`` the step's
  input weights, ``psw = g w_in`` its output weights and ``u = x / psw``, the residual is
  ``psw (u - X beta)`` with ``beta = (X' W_in X)^- X' W_in u`` (a pseudo-inverse: the
  indicator auxiliaries are rank deficient). ``X`` lives on cells, so ``X' W_in X`` and
  ``X' W_in u`` are per-cell sums.
* **rake** (R ``rake``, a list of post-strata of class ``"raking"``): ten sweeps over the
  margins of ``u <- u - ave(u, margin)`` (an *unweighted* mean over the rows of each margin
  level), with ``psw`` the weights after the rake (R keeps the post-strata of its last
  iteration, equal to the raked weights at convergence). On cells this is a shift per cell.

References: Deville & Särndal (1992) JASA 87:376-382; Lumley (2010) *Complex Surveys*, ch. 7;
R survey ``svyrecvar`` (survey.R), ``rake``, ``calibrate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calib.core.errors import DataError
from calib.core.history import Calibration, Step
from calib.core.sample import Sample
from calib.weighting import registry

#: R's ``svyrecvar`` runs exactly ten sweeps of the raking residualization.
RAKE_SWEEPS = 10


@dataclass(frozen=True)
class CalStep:
    """One calibration step with its row-level input and output weights."""

    step: Step
    cal: Calibration
    w_in: np.ndarray
    w_out: np.ndarray


def calibration_chain(sample: Sample) -> tuple[tuple[CalStep, ...], bool]:
    """The sample's calibration steps with their row weights, and whether the chain is exact.

    Every calibration step gets the row weights it had when it ran, as R survey stores them
    with the design (``rake`` / ``postStratify`` / ``calibrate`` keep their weights; a later
    ``trimWeights`` changes the design's weights but not the stored ones). The steps before
    the first non-calibration step (e.g. ``trim``) are rebuilt forwards from the base weights
    and their g factors; the steps after the last one backwards from the final weights. A
    calibration step between two non-calibration steps cannot be rebuilt: the final weights
    stand in for its output weights and the second value is False.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": list("FFM")})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
    ...                                      "total": [2.0, 2.0]}))
    >>> chain, exact = calibration_chain(Sample(df).rake(t))
    >>> chain[0].w_out.tolist(), exact
    ([1.0, 1.0, 2.0], True)
    >>> chain, exact = calibration_chain(Sample(df).rake(t).trim(upper=1.5))
    >>> chain[0].w_out.tolist(), exact
    ([1.0, 1.0, 2.0], True)
    """
    n = sample.n
    final = sample.weight_array
    history = list(sample.history)
    for s in history:
        if s.calibration is not None and s.calibration.row_cell.shape[0] != n:
            raise DataError(
                f"weighting step {s.method!r} dropped rows for missing values, so its "
                "calibration cannot be linked to the sample's rows; drop or impute the missing "
                "weighting variables before weighting (missing='level' keeps them as a level)"
            )
    other = [i for i, s in enumerate(history) if s.calibration is None]
    first = other[0] if other else len(history)
    last = other[-1] if other else len(history)
    out: dict[int, CalStep] = {}
    w = sample.base_weights.to_numpy(dtype=float)
    for i, s in enumerate(history[:first]):  # forwards from the base weights
        w_out = w * _g_rows(s)
        out[i] = CalStep(s, _cal(s), w, w_out)
        w = w_out
    if not other and not np.allclose(w, final, rtol=1e-9, atol=0):
        return _stand_in(history, final), False
    w = final
    for i in range(len(history) - 1, last, -1):  # backwards from the final weights
        s = history[i]
        w_in = np.zeros(n)
        np.divide(w, _g_rows(s), out=w_in, where=_g_rows(s) > 0)
        out[i] = CalStep(s, _cal(s), w_in, w)
        w = w_in
    middle = [i for i in range(first, last) if history[i].calibration is not None]
    if middle:
        return _stand_in(history, final), False
    return tuple(out[i] for i in sorted(out)), True


def _cal(s: Step) -> Calibration:
    assert s.calibration is not None  # only calibration steps reach here
    return s.calibration


def _g_rows(s: Step) -> np.ndarray:
    cal = _cal(s)
    return cal.g[cal.row_cell]


def _stand_in(history: list[Step], final: np.ndarray) -> tuple[CalStep, ...]:
    """Every calibration step with the final weights as its output weights (approximate)."""
    out = []
    for s in history:
        if s.calibration is None:
            continue
        g_rows = _g_rows(s)
        w_in = np.zeros(final.size)
        np.divide(final, g_rows, out=w_in, where=g_rows > 0)
        out.append(CalStep(s, s.calibration, w_in, final))
    return tuple(out)


def residualize(x: np.ndarray, chain: tuple[CalStep, ...]) -> np.ndarray:
    """Replace influence values ``x`` (n, k) by their calibration residuals (R ``svyrecvar``).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": list("FFMM")})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
    ...                                      "total": [2.0, 2.0]}))
    >>> chain, _ = calibration_chain(Sample(df).poststratify(t))
    >>> residualize(np.array([[1.0], [3.0], [5.0], [5.0]]), chain).ravel().tolist()
    [-1.0, 1.0, 0.0, 0.0]
    """
    x = np.array(x, dtype=float, copy=True)
    if x.ndim == 1:
        x = x[:, None]
    for cs in chain:
        if raking_residuals(cs.step.method):
            x = _rake_resid(x, cs)
        else:
            x = _greg_resid(x, cs)
    return x


def raking_residuals(method: str) -> bool:
    """Whether a step of ``method`` is linearized by R's raking residuals (its registry record
    has the ``ipf`` kernel) rather than by the GREG regression residuals.

    Examples
    --------
    >>> raking_residuals("rake"), raking_residuals("calibrate")
    (True, False)
    """
    return registry.method(method).kernel == "ipf"


def _u(x: np.ndarray, psw: np.ndarray) -> np.ndarray:
    u = np.zeros_like(x)
    np.divide(x, psw[:, None], out=u, where=psw[:, None] > 0)
    return u


def _cell_sums(rc: np.ndarray, vals: np.ndarray, m: int) -> np.ndarray:
    return np.column_stack([np.bincount(rc, weights=vals[:, j], minlength=m)
                            for j in range(vals.shape[1])])


def _greg_resid(x: np.ndarray, cs: CalStep) -> np.ndarray:
    cal = cs.cal
    rc, X = cal.row_cell, cal.X
    m = X.shape[0]
    u = _u(x, cs.w_out)
    wc = np.bincount(rc, weights=cs.w_in, minlength=m)
    S = _cell_sums(rc, cs.w_in[:, None] * u, m)  # (m, k): per-cell sum of w_in u
    A = (X * wc[:, None]).T @ X
    beta = np.linalg.pinv(A, rtol=1e-10, hermitian=True) @ (X.T @ S)
    return x - cs.w_out[:, None] * (X @ beta)[rc]


def _rake_resid(x: np.ndarray, cs: CalStep) -> np.ndarray:
    cal = cs.cal
    rc = cal.row_cell
    m = cal.X.shape[0]
    u = _u(x, cs.w_out)
    U = _cell_sums(rc, u, m)
    nc = np.bincount(rc, minlength=m).astype(float)
    shift = np.zeros_like(U)
    for _ in range(RAKE_SWEEPS):
        for idx in cal.margin_index:
            size = int(idx.max()) + 1
            cnt = np.bincount(idx, weights=nc, minlength=size)
            tot = np.column_stack([
                np.bincount(idx, weights=U[:, j] + nc * shift[:, j], minlength=size)
                for j in range(U.shape[1])
            ])
            mean = np.zeros_like(tot)
            np.divide(tot, cnt[:, None], out=mean, where=cnt[:, None] > 0)
            shift -= mean[idx]
    return cs.w_out[:, None] * (u + shift[rc])
