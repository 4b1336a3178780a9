"""Propensity (importance) weights against reference microdata, fitted on cells.

The persona rows and the reference rows (e.g. ANES, CCES respondents with their design
weights) are stacked; a regularized logistic regression of membership (1 = persona,
0 = reference) on one-hot main effects of the harmonized variables estimates the propensity
``p(x)`` of being a persona. Each persona row gets ``d_i (1 - p) / p``: the odds estimate the
density ratio reference / persona, so the weighted persona sample reproduces the reference's
distribution of the variables (Lee & Valliant 2009; Elliott & Valliant 2017).

Fitted on CELLS: both samples are collapsed to the joint cells of the variables (the persona
weight sum and the reference weight sum per cell) and the weighted log-likelihood
``sum_c S_c log p_c + R_c log(1 - p_c)`` is maximized on the cell table (identical to the
row-level weighted likelihood, at the cost of the cells).

Weighting choice (as in ``balance``'s ``ipw``): persona rows carry their input weights scaled
to mean one (total = number of personas); reference rows carry their design weights scaled
to the same total, so the two groups weigh the same in the fit and the intercept is near 0.
Coding: an intercept plus one indicator per level except the first of each variable
(reference coding, so that the unpenalized fit is identified); the penalty is
``||beta||^2 / (2 C)`` on the non-intercept coefficients (scikit-learn's ``C`` convention,
with the log-likelihood scaled by the number of personas). Final weights are scaled so that
their total equals the reference's total weight; ``trim`` caps them at ``trim`` times the
mean weight and redistributes the excess over the uncapped rows (iterated until none
exceeds the cap).

References: Lee & Valliant (2009) Sociol. Methods Res. 37:319-343; Elliott & Valliant (2017)
Stat. Sci. 32:249-264; Sarig, Galili & Eilat (2023) *balance*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from calib.core.cells import (
    Encoded,
    broadcast,
    collapse,
    encode,
)
from calib.core.errors import ConvergenceError, DataError
from calib.core.history import Step
from calib.core.literals import MissingRule
from calib.core.sample import Sample, check_weights
from calib.data.variables import LEVELS
from calib.weighting.diagnostics import asmd


def propensity(
    sample: Sample,
    reference: pd.DataFrame | Sample,
    *,
    variables: Sequence[str] | None = None,
    reference_weight: str | None = None,
    C: float = 1.0,
    trim: float | None = None,
    missing: MissingRule = "error",
    max_iter: int = 1000,
) -> Sample:
    """Importance weights of the personas against reference microdata.

    Parameters
    ----------
    sample : the persona Sample; its current weights are the input weights.
    reference : reference microdata, a DataFrame (weights in ``reference_weight``, else
        equal) or a :class:`calib.Sample` (its current weights).
    variables : adjustment variables; default the harmonized variables
        (:data:`calib.data.variables.LEVELS`) that both frames have.
    C : inverse L2 penalty (larger = less regularization; ``np.inf`` for none).
    trim : cap the weights at ``trim`` times the mean weight (excess redistributed).
    missing : missing values in the variables: ``"error"``, ``"drop"`` or ``"level"``.
    max_iter : most L-BFGS iterations.

    Returns
    -------
    Sample
        New sample; ``history[-1].options`` holds the coefficients and the ASMD of every
        variable against the reference before and after weighting (``calibration`` is None).

    Raises
    ------
    DataError
        Bad options, no shared variables, or a persona level the reference never has (no
        reference support: recode or collapse that level).
    ConvergenceError
        When L-BFGS stops without converging, at the iteration limit or for any other reason
        (e.g. an abnormal line search); the step is never returned with ``converged=False``.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample
    >>> personas = pd.DataFrame({"sex": ["Female"] * 3 + ["Male"] * 7})
    >>> ref = pd.DataFrame({"sex": ["Female", "Male"], "wt": [600.0, 400.0]})
    >>> s = propensity(Sample(personas), ref, reference_weight="wt", C=float("inf"))
    >>> s.weights.groupby(personas["sex"]).sum().round(3).tolist()
    [600.0, 400.0]
    """
    if not C > 0:
        raise DataError(f"C={C!r}: the inverse penalty must be > 0 (np.inf for no penalty)")
    if trim is not None and not trim > 1:
        raise DataError(f"trim={trim!r}: the cap is a multiple of the mean weight and must exceed 1")
    ref_frame, ref_w = _reference(reference, reference_weight)
    frame = sample.frame
    if variables is None:
        variables = [v for v in LEVELS if v in frame.columns and v in ref_frame.columns]
        if not variables:
            raise DataError(
                "propensity: the sample and the reference share no harmonized variable "
                f"({', '.join(LEVELS)}); pass variables=[...] naming shared columns"
            )
    variables = list(variables)
    for v in variables:
        for what, f in (("sample", frame), ("reference", ref_frame)):
            if v not in f.columns:
                raise DataError(f"propensity: variable {v!r} is not a column of the {what}")
    enc_r = encode(ref_frame, variables, missing=missing)
    try:
        enc_s = encode(frame, variables, levels=enc_r.levels, missing=missing)
    except DataError as e:
        raise DataError(
            f"{e} -- propensity: a persona level the reference never has has no reference "
            "support; recode or collapse it"
        ) from None
    d = sample.weight_array[enc_s.keep]
    r = ref_w[enc_r.keep]
    n_s = d.size
    ds = d * (n_s / d.sum())
    rs = r * (n_s / r.sum())
    both = Encoded(
        tuple(variables),
        tuple(np.concatenate([a, b]) for a, b in zip(enc_s.codes, enc_r.codes, strict=True)),
        enc_r.levels,
        np.ones(n_s + r.size, dtype=bool),
    )
    z = np.zeros
    cells, row_cell = collapse(
        both,
        None,
        sums={"persona": np.concatenate([ds, z(r.size)]), "reference": np.concatenate([z(n_s), rs])},
    )
    S, R = cells.sums["persona"], cells.sums["reference"]
    X, names = _design(cells, variables)
    beta, res = _fit(X, S, R, C, n_s, max_iter)
    p = expit(X @ beta)
    odds = (1 - p) / p
    w = d * broadcast(odds, row_cell[:n_s])
    w = w * (r.sum() / w.sum())
    notes = []
    if trim is not None:
        w, k = _trim(w, trim)
        notes.append(f"trimmed {k} weights at {trim:g} x mean weight (excess redistributed)")

    kept = frame[enc_s.keep] if not enc_s.keep.all() else frame
    refk = ref_frame[enc_r.keep] if not enc_r.keep.all() else ref_frame
    before = asmd(kept, d, refk, variables=variables, reference_weight=r)
    after = asmd(kept, w, refk, variables=variables, reference_weight=r)
    notes.append(
        "ASMD vs reference before -> after: "
        + ", ".join(f"{v} {before[v]:.3f} -> {after[v]:.3f}" for v in variables)
    )
    dropped = {**{f"sample:{k}": v for k, v in enc_s.dropped.items()}}
    step = Step(
        method="propensity",
        options={
            "variables": tuple(variables),
            "C": C,
            "trim": trim,
            "missing": missing,
            "coefficients": dict(zip(names, map(float, beta), strict=True)),
            "asmd_before": before.to_dict(),
            "asmd_after": after.to_dict(),
            "reference_rows": int(r.size),
            "reference_dropped": dict(enc_r.dropped),
        },
        converged=True,  # _fit raises when the fit did not converge
        iterations=int(res.nit),
        max_error=float(after.max()) if after.size else 0.0,
        history=(),
        targets=None,
        dropped=dropped,
        calibration=None,
        notes=tuple(notes),
    )
    return sample.with_weights(w, step, enc_s.keep)


def _reference(reference: Any, weight: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    if isinstance(reference, Sample):
        if weight is not None:
            raise DataError("reference_weight= is for a DataFrame reference; a Sample has weights")
        return reference.frame, reference.weight_array
    if not isinstance(reference, pd.DataFrame):
        raise DataError(
            f"reference must be a DataFrame or a calib.Sample, got {type(reference).__name__}"
        )
    if len(reference) == 0:
        raise DataError("the reference has no rows")
    if weight is None:
        return reference, np.ones(len(reference))
    if weight not in reference.columns:
        raise DataError(f"reference weight column {weight!r} is not in the reference data")
    w = pd.to_numeric(reference[weight], errors="coerce").to_numpy(dtype=float)
    return reference, check_weights(w, f"reference weight {weight!r}", reference.index)


def _design(cells: Any, variables: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept + indicators of every level but the first, per cell."""
    cols = [np.ones(cells.n_cells)]
    names = ["(intercept)"]
    for j, v in enumerate(variables):
        codes = cells.keys[:, j]
        for k, lev in enumerate(cells.levels[v][1:], start=1):
            cols.append((codes == k).astype(float))
            names.append(f"{v}={lev}")
    return np.column_stack(cols), names


#: Largest gradient entry of the (1/n-scaled) penalized log-likelihood accepted as converged
#: when L-BFGS stops for another reason than its own tolerances.
GRAD_TOL = 1e-6


def _fit(
    X: np.ndarray, S: np.ndarray, R: np.ndarray, C: float, n: int, max_iter: int
) -> tuple[np.ndarray, Any]:
    """Penalized weighted logistic regression on cells (L-BFGS with the exact gradient)."""
    lam = 0.0 if np.isinf(C) else 1.0 / C
    pen = np.ones(X.shape[1])
    pen[0] = 0.0

    def f(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = X @ beta
        ll = S @ log_expit(eta) + R @ log_expit(-eta)
        p = expit(eta)
        grad = X.T @ (S - (S + R) * p)
        val = -ll / n + 0.5 * lam * (pen * beta) @ beta / n
        return float(val), -grad / n + lam * pen * beta / n

    res = minimize(
        f, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": 1e-10, "ftol": 1e-15},
    )  # fmt: skip
    # L-BFGS often ends with an "abnormal" line search at the optimum, where float precision
    # leaves no decrease to find: that is convergence when the gradient is (near) zero
    grad_max = float(np.abs(f(res.x)[1]).max()) if res.x.size else 0.0
    if not res.success and grad_max > GRAD_TOL:
        why = (f"did not converge in {max_iter} iterations" if res.nit >= max_iter
               else f"stopped after {res.nit} iterations without converging")
        raise ConvergenceError(
            f"propensity: the logistic fit (L-BFGS) {why} ({res.message}; largest gradient "
            f"entry {grad_max:.3g}); raise max_iter, or "
            "lower C (more regularization), or drop or collapse variables whose levels the "
            "sample or the reference barely has"
        )
    return res.x, res


def _trim(w: np.ndarray, cap: float) -> tuple[np.ndarray, int]:
    """Cap at ``cap`` x mean and redistribute the excess proportionally over the rest."""
    w = w.copy()
    total = w.sum()
    capped = np.zeros(w.size, dtype=bool)
    for _ in range(100):
        limit = cap * total / w.size
        over = (w > limit * (1 + 1e-12)) & ~capped
        if not over.any():
            break
        capped |= over
        w[capped] = limit
        free = ~capped
        rest = total - limit * capped.sum()
        if not free.any() or w[free].sum() <= 0:
            raise DataError(f"trim={cap:g}: every weight hits the cap; raise it")
        w[free] *= rest / w[free].sum()
    return w, int(capped.sum())
