"""Iterative proportional fitting on cells, for one weight vector or many at once.

The solver works on per-cell weights, one vector (m,) or several (R, m) raked in the same
vectorized sweep (one bincount per margin for all of them). Replicate variance uses the
compiled :mod:`calib.estimation.compiled.ipf_batch` instead (the same algorithm, one replicate at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IPFResult:
    """Raked cell weights and convergence information."""

    weight: np.ndarray
    converged: bool
    iterations: int
    max_error: float
    history: tuple[float, ...]


def _margin_sums(w: np.ndarray, idx: np.ndarray, size: int) -> np.ndarray:
    if w.ndim == 1:
        return np.bincount(idx, weights=w, minlength=size)
    r = w.shape[0]
    flat = (np.arange(r)[:, None] * size + idx[None, :]).ravel()
    return np.bincount(flat, weights=w.ravel(), minlength=r * size).reshape(r, size)


def _ratio(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    out = np.ones_like(current)
    np.divide(target, current, out=out, where=current > 0)
    return out


def max_rel_error(
    w: np.ndarray, index: Sequence[np.ndarray], totals: Sequence[np.ndarray]
) -> float:
    """Largest relative margin error ``|achieved - target| / target`` over every entry."""
    err = 0.0
    for idx, t in zip(index, totals, strict=True):
        cur = _margin_sums(w, idx, t.shape[-1])
        pos = t > 0
        if pos.any():  # t is (L,) or, one row per replicate, (R, L)
            e = np.where(pos, np.abs(cur - t) / np.where(pos, t, 1.0), 0.0)
            err = max(err, float(e.max()))
    return err


def ipf(
    weight: np.ndarray,
    index: Sequence[np.ndarray],
    totals: Sequence[np.ndarray],
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    cap: np.ndarray | float | None = None,
) -> IPFResult:
    """Rake cell weights to margin totals.

    Parameters
    ----------
    weight : (m,) or (R, m) input weights per cell.
    index : per margin, the entry index of every cell (length m).
    totals : per margin, the target totals (for (R, m) input, (L,) or (R, L)).
    tol : stop when the largest relative margin error is below ``tol``.
    max_iter : most full sweeps over the margins.
    cap : optional upper bound on the cell weight, (m,) or scalar (or (R, m)), enforced after
        every sweep (anesrake style); convergence then needs margins met under the cap.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, 1.0, 1.0, 1.0])
    >>> r = ipf(w, [np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])],
    ...         [np.array([3.0, 1.0]), np.array([2.0, 2.0])])
    >>> r.weight.round(6).tolist(), r.converged
    ([1.5, 1.5, 0.5, 0.5], True)
    """
    w = np.array(weight, dtype=float, copy=True)
    history: list[float] = []
    err = max_rel_error(w, index, totals)
    history.append(err)
    it = 0
    while err > tol and it < max_iter:
        it += 1
        for idx, t in zip(index, totals, strict=True):
            cur = _margin_sums(w, idx, t.shape[-1])
            f = _ratio(t, cur)
            w *= f[idx] if f.ndim == 1 else np.take_along_axis(f, np.broadcast_to(idx, w.shape), 1)
        if cap is not None:
            np.minimum(w, cap, out=w)
        err = max_rel_error(w, index, totals)
        history.append(err)
        if it >= 3 and history[-1] >= history[-2] * (1 - 1e-12) and history[-1] >= history[-3]:
            # stalled: no progress over two sweeps (infeasible under the cap, or converged to a
            # floor above tol); stop early and let the caller report
            if cap is not None:
                break
    return IPFResult(w, err <= tol, it, err, tuple(history))
