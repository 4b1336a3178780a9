"""Iterative proportional fitting of a batch of cell-weight vectors (replicates), compiled.

Replicate variance re-rakes every replicate's cells to the same margins; the batch is raked
one replicate after another in a numba kernel (each stops at its own convergence; parts of the
batch in threads, :mod:`calib.core.threads`). Same algorithm and stopping
rule as :func:`calib.weighting.ipf.ipf` (the largest ``|target / current - 1|`` of a sweep at
most ``tol``), without a cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from calib.core.threads import run_parts

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


@numba.njit(cache=True, nogil=True)
def _rake_sums(A, sub_cell, sub_dom, g0, idx, offs, sizes, tot, tol, max_iter, wc, w, cur, f,  # noqa: PLR0913 - numba kernel
               out):  # pragma: no cover - numba
    """Rake the cell weights summed from ``A[:, 0]`` over sub-cells (``sub_cell``), warm start
    ``* g0``; then ``out[j, d] = sum of g_c A[s, j + 1]`` over sub-cells ``s`` of domain
    ``d = sub_dom[s]`` (-1: none), with ``g`` the raked weight over the cell weight, and in
    the last row of ``out`` the domain's calibrated weight ``sum of g_c A[s, 0]``."""
    wc[:] = 0.0
    for s in range(A.shape[0]):
        wc[sub_cell[s]] += A[s, 0]
    for c in range(wc.size):
        w[c] = wc[c] * g0[c]
    status, err = _rake_one(w, idx, offs, sizes, tot, tol, max_iter, cur, f)
    out[:, :] = 0.0
    for s in range(A.shape[0]):
        d = sub_dom[s]
        c = sub_cell[s]
        if d >= 0 and wc[c] > 0.0:
            g = w[c] / wc[c]
            for j in range(out.shape[0] - 1):
                out[j, d] += g * A[s, j + 1]
            out[out.shape[0] - 1, d] += g * A[s, 0]
    return status, err


@dataclass(frozen=True)
class RakeKernel:
    """Margins prepared once for raking many replicates' cell weights one at a time (each in
    the thread that drew it, while its cells are in cache): :meth:`sums` rakes one replicate
    and returns its calibrated totals by domain.

    Examples
    --------
    >>> import numpy as np
    >>> k = RakeKernel.build([np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])],
    ...                      np.array([3.0, 1.0, 2.0, 2.0]))
    >>> A = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])  # weight, weight * y
    >>> out = np.empty((2, 1))
    >>> k.sums(A, np.arange(4), np.zeros(4, int), np.ones(4), out), out.round(6).tolist()
    ((2, 0.0), [[2.0], [4.0]])
    """

    idx: np.ndarray
    offs: np.ndarray
    sizes: np.ndarray
    totals: np.ndarray
    tol: float
    max_iter: int

    @classmethod
    def build(cls, index: Sequence[np.ndarray], totals: np.ndarray, tol: float = 1e-10,
              max_iter: int = 5000) -> RakeKernel:
        idx, offs, sizes = _prepare(index)
        T = np.ascontiguousarray(totals, dtype=float)
        if T.shape != (int(sizes.sum()),):
            raise ValueError(f"totals has shape {T.shape}; expected ({int(sizes.sum())},)")
        return cls(idx, offs, sizes, T, float(tol), int(max_iter))

    def sums(self, A: np.ndarray, sub_cell: np.ndarray, sub_dom: np.ndarray, g0: np.ndarray,
             out: np.ndarray,
             scratch: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
             ) -> tuple[int, float]:
        """Rake the cells' weights ``sum of A[s, 0]`` over their sub-cells ``s``
        (``sub_cell[s]``: the cell; warm start ``* g0``) and write ``out[j, d]``, the total of
        ``g A[s, j + 1]`` over the sub-cells of domain ``d = sub_dom[s]`` (-1: none), and in
        ``out[-1, d]`` the domain's weight, the total of ``g A[s, 0]``. Returns
        ``(status, error)`` as :class:`BatchResult`. ``scratch``: reusable ``(wc (m,), w (m,),
        cur (p,), f (p,))``."""
        m = g0.size
        if scratch is None:
            scratch = (np.empty(m), np.empty(m), np.empty(self.totals.size),
                       np.empty(self.totals.size))
        if m == 0 or not self.idx.size:
            raise ValueError("RakeKernel.sums needs cells and margins")
        st, err = _rake_sums(A, sub_cell, sub_dom, g0, self.idx, self.offs, self.sizes,
                             self.totals, self.tol, self.max_iter, *scratch, out)
        return int(st), float(err)


def _prepare(index: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not len(index):
        return np.empty((0, 0), np.int32), np.empty(0, np.int64), np.empty(0, np.int64)
    sizes = np.array([int(i.max()) + 1 if i.size else 0 for i in index], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    idx = np.ascontiguousarray(np.stack([np.asarray(i) for i in index]), dtype=np.int32)
    return idx, offs, sizes


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
    idx, offs, sizes = _prepare(index)
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
