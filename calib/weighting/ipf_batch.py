"""Iterative proportional fitting of a batch of cell-weight vectors (replicates), compiled.

Replicate variance re-rakes every replicate's cells to the same margins; the batch is raked
one replicate after another in a numba kernel (each stops at its own convergence; parts of the
batch in threads, :mod:`calib.threads`). Same algorithm and stopping
rule as :func:`calib.weighting.ipf.ipf` (the largest ``|target / current - 1|`` of a sweep at
most ``tol``), without a cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from ..threads import run_parts

#: status of a replicate that did not converge within ``max_iter`` sweeps
NOT_CONVERGED = -1


@numba.njit(cache=True, nogil=True)
def _margin_sums(w, idx_k, o, L, cur):  # pragma: no cover - numba
    """``cur[o:o+L]``: sums of ``w`` by the codes ``idx_k``, adding runs of equal codes in a
    register first (cells come sorted, so the slow-varying margins are long runs)."""
    for j in range(L):
        cur[o + j] = 0.0
    acc = 0.0
    prev = idx_k[0]
    for c in range(w.size):
        ix = idx_k[c]
        if ix != prev:
            cur[o + prev] += acc
            acc = 0.0
            prev = ix
        acc += w[c]
    cur[o + prev] += acc


@numba.njit(cache=True, nogil=True)
def _rake_one(w, idx, offs, sizes, tot, tol, max_iter, cur, f):  # pragma: no cover - numba
    """Rake one weight vector; the scaling pass of each margin also sums the next margin."""
    nm = idx.shape[0]
    _margin_sums(w, idx[0], offs[0], sizes[0], cur)
    err = np.inf
    for it in range(max_iter):
        err = 0.0
        for k in range(nm):
            o, L = offs[k], sizes[k]
            for j in range(L):
                c0 = cur[o + j]
                if c0 > 0.0:
                    f[o + j] = tot[o + j] / c0
                elif tot[o + j] > 0.0:
                    return -2 - (o + j), np.inf  # empty support: entry o + j
                else:
                    f[o + j] = 1.0
                e = abs(f[o + j] - 1.0)
                if e > err:
                    err = e
            nxt = k + 1 if k + 1 < nm else 0
            o2 = offs[nxt]
            for j in range(sizes[nxt]):
                cur[o2 + j] = 0.0
            idk, idn = idx[k], idx[nxt]
            acc = 0.0
            prev = idn[0]
            for c in range(w.size):
                v = w[c] * f[o + idk[c]]
                w[c] = v
                ix = idn[c]
                if ix != prev:
                    cur[o2 + prev] += acc
                    acc = 0.0
                    prev = ix
                acc += v
            cur[o2 + prev] += acc
        if err <= tol:
            return it + 1, err
    return NOT_CONVERGED, err


@numba.njit(cache=True, nogil=True)
def _rake_batch(W, idx, offs, sizes, T, tol, max_iter, status, errs):  # pragma: no cover
    cur = np.empty(T.shape[1])
    f = np.empty(T.shape[1])
    for r in range(W.shape[0]):
        status[r], errs[r] = _rake_one(W[r], idx, offs, sizes, T[r], tol, max_iter, cur, f)


@dataclass(frozen=True)
class BatchResult:
    """Raked (k, m) weights; per replicate ``status`` (sweeps to convergence, ``-1`` not
    converged, ``-2 - e`` margin entry ``e`` has a target but no weight) and ``error``."""

    weight: np.ndarray
    status: np.ndarray
    error: np.ndarray


def ipf_batch(
    weight: np.ndarray, index: Sequence[np.ndarray], totals: np.ndarray, *,
    tol: float = 1e-10, max_iter: int = 5000, copy: bool = True,
) -> BatchResult:
    """Rake each row of ``weight`` (k, m) to ``totals`` (k, p): the margins' target entries
    side by side in ``index`` order (margin j's levels ``0..L_j-1`` are ``index[j]``'s codes).
    ``copy=False`` rakes ``weight`` in place when it is already a C-ordered float array.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.ones((2, 4))
    >>> T = np.array([[3.0, 1.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
    >>> r = ipf_batch(W, [np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])], T)
    >>> r.weight.round(6).tolist(), r.status.tolist()
    ([[1.5, 1.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]], [2, 2])
    """
    W = np.array(weight, dtype=float, order="C", copy=True if copy else None, ndmin=2)
    sizes = np.array([int(i.max()) + 1 if i.size else 0 for i in index], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    idx = np.ascontiguousarray(np.stack([np.asarray(i) for i in index]), dtype=np.int32)
    T = np.ascontiguousarray(totals, dtype=float)
    if T.shape != (W.shape[0], int(sizes.sum())):
        raise ValueError(f"totals has shape {T.shape}; expected {(W.shape[0], int(sizes.sum()))}")
    status = np.empty(W.shape[0], dtype=np.int64)
    errs = np.empty(W.shape[0])
    if W.shape[1] == 0 or not idx.size:  # nothing to rake
        status[:] = 0
        errs[:] = 0.0
        return BatchResult(W, status, errs)
    tol, max_iter = float(tol), int(max_iter)

    def part(a: int, b: int) -> None:
        _rake_batch(W[a:b], idx, offs, sizes, T[a:b], tol, max_iter, status[a:b], errs[a:b])

    run_parts(part, W.shape[0])
    return BatchResult(W, status, errs)
