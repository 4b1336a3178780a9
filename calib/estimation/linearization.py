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

    Row input/output weights of every calibration step are rebuilt from the base weights and
    the g factors. When another step (e.g. ``trim``) sits between or after them, the chain
    cannot be rebuilt and the final weights stand in for every step's output weights (the
    second value is then False).

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
    """
    n = sample.n
    final = sample.weight_array
    steps = [(s, s.calibration) for s in sample.history if s.calibration is not None]
    for s, cal in steps:
        if cal.row_cell.shape[0] != n:
            raise DataError(
                f"weighting step {s.method!r} dropped rows for missing values, so its "
                "calibration cannot be linked to the sample's rows; drop or impute the missing "
                "weighting variables before weighting (missing='level' keeps them as a level)"
            )
    w = sample.base_weights.to_numpy(dtype=float)
    exact = True
    out: list[CalStep] = []
    for s in sample.history:
        cal = s.calibration
        if cal is None:
            exact = False
            continue
        g_rows = cal.g[cal.row_cell]
        out.append(CalStep(s, cal, w, w * g_rows))
        w = w * g_rows
    if not exact or not np.allclose(w, final, rtol=1e-9, atol=0):
        exact = False
        out = []
        for s, cal in steps:
            g_rows = cal.g[cal.row_cell]
            w_in = np.zeros(n)
            np.divide(final, g_rows, out=w_in, where=g_rows > 0)
            out.append(CalStep(s, cal, w_in, final))
    return tuple(out), exact


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
