"""Replicate estimates through cells: no row-level replicate weights.

With at most one calibration step, a replicate's final weight is ``f_i w_i g_r[c(i)]``, so a
replicate estimate needs only sums of ``f w`` and ``f w y_l`` per sub-cell (a calibration cell
split by domain). The sums come from the compiled draws of :mod:`.grouped` (bootstrap) or from
:meth:`~.replicates.ReplicatePlan.row_factors` (one pass over the rows per replicate); each
replicate is recalibrated on cells (:func:`.replicates.solve_replicates`, or, for raking, in the thread
that drew it with :class:`~calib.estimation.compiled.ipf_batch.RakeKernel`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from calib.core.sample import Sample
from calib.core.threads import run_parts
from calib.estimation.compiled.grouped import CellSums, factorize_rows, first_rows
from calib.estimation.compiled.ipf_batch import RakeKernel
from calib.estimation.domains import Estimands
from calib.estimation.linearization import CalStep, raking_residuals
from calib.estimation.replicates import (
    CHUNK_ENTRIES,
    ReplicatePlan,
    rake_options,
    rake_status,
    solve_replicates,
)


def fast_thetas(
    sample: Sample, p: ReplicatePlan, chain: tuple[CalStep, ...], est: Estimands,
    targets_se: bool = False, grouped: bool = True,
    advance: Callable[[int], None] | None = None, fused_rake: bool = True,
) -> tuple[np.ndarray, str] | None:
    """Replicate estimates through cells, without (k, n) replicate weight matrices (or None).

    With at most one calibration step, a replicate's final weight is ``f_i w_i g_r[c(i)]``, so
    ``theta_r`` needs only sums of ``f w`` and ``f w y_l`` per sub-cell (a calibration cell
    split by domain): ``f w`` summed over a cell's sub-cells recalibrates it, and
    ``sum_c g_rc S_rc`` over a domain's sub-cells gives its totals. With ``grouped``
    (bootstrap) those sums are drawn by :class:`~calib.estimation.compiled.grouped.CellSums` (compiled
    exact multinomial draws over groups of identical rows, or over sub-cells then rows);
    otherwise the factors are those of :meth:`ReplicatePlan.row_factors` (one pass over the
    rows per replicate) and the result equals the row path. Returns ``(thetas, draw)`` with
    ``draw`` naming the path, or None (use the row path) for chains of several steps or
    outcomes of very many levels. With ``fused_rake`` (the default) drawn replicates of a
    raked sample are re-raked in the thread that drew them; False re-rakes them in chunks
    after the draws, as every other method (the same numbers).
    """
    if len(chain) > 1 or len(sample.history) != len(chain) or est.ycols.shape[1] > 32:
        return None
    base = sample.base_weights.to_numpy(dtype=float)
    ones = bool((base == 1.0).all())
    L, K = est.ycols.shape[1], est.n_dom
    # value columns y_l (a domain's weight is the weight of its sub-cells: rows outside every
    # estimand have sub-cells of their own)
    V = np.ascontiguousarray(est.ycols)
    J = L
    cs = chain[0] if chain else None
    m = cs.cal.X.shape[0] if cs is not None else 1
    rc = cs.cal.row_cell if cs is not None else np.zeros(sample.n, dtype=np.int64)
    sub, sub_cell, sub_dom = _subcells(rc, est.dom, m, K)
    ms = sub_cell.size
    drawn = CellSums.build(p, sub, base, V, ms) if grouped and p.method == "bootstrap" else None
    draw = drawn.draw if drawn is not None else "rows"
    step = max(1, min(p.n_rep, CHUNK_ENTRIES // (ms * (J + 1))))
    if (fused_rake and drawn is not None and cs is not None and raking_residuals(cs.step.method)
            and not targets_se and cs.step.options.get("cap") is None):
        tot = _drawn_rake_totals(cs, drawn, sub_cell, sub_dom, K, p.n_rep, J, step, advance)
        return _ratio(tot, est.stat), draw
    out = np.empty((p.n_rep, L * K))
    buf = np.empty((step, ms, J + 1))  # per replicate and sub-cell: sum f w, sums f w v_j
    inside = sub_dom >= 0
    for a in range(0, p.n_rep, step):
        bnd = min(a + step, p.n_rep)
        k = bnd - a
        A = buf[:k]
        if drawn is not None:  # compiled draws, replicates split over threads
            run_parts(lambda u, v, a=a, A=A: [drawn.sums(a + r, A[r]) for r in range(u, v)], k)
        for r in range(k if drawn is None else 0):
            f = p.row_factors(a + r, a + r + 1)[0]
            if not ones:
                f *= base
            A[r, :, 0] = np.bincount(sub, weights=f, minlength=ms)
            for j in range(J):
                A[r, :, j + 1] = np.bincount(sub, weights=f * V[:, j], minlength=ms)
        if cs is not None:
            tseed = ((p.seed if p.seed is not None else 0), a) if targets_se else None
            Wc = np.stack([np.bincount(sub_cell, weights=A[r, :, 0], minlength=m)
                           for r in range(k)])
            gs = solve_replicates(cs, Wc, a, tseed)[:, sub_cell]
        else:
            gs = np.ones((k, ms))
        tot = np.empty((k, J + 1, K))
        for r in range(k):
            for j in range(J + 1):
                col = j + 1 if j < J else 0  # outcome totals, then the domain's weight
                tot[r, j] = np.bincount(sub_dom[inside], weights=gs[r, inside] * A[r, inside, col],
                                        minlength=K)
        out[a:bnd] = _ratio(tot, est.stat)
        if advance is not None:
            advance(k)
    return out, draw


def _subcells(rc: np.ndarray, dom: np.ndarray, m: int, K: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sub-cells: calibration cells split by domain (-1: in no estimand). Returns each row's
    sub-cell code and, per sub-cell, its cell and its domain."""
    got = factorize_rows([(rc, m), (dom + 1, K + 1)], rc.size)
    assert got is not None  # at most rc.size sub-cells: the limit is never passed
    sub, ms = got
    first = first_rows(sub, ms)
    return sub, rc[first], dom[first]


def _ratio(tot: np.ndarray, stat: str) -> np.ndarray:
    """Replicate estimates (k, L * K) from calibrated totals ``tot`` (k, L + 1, K): per domain
    the L outcome totals, then the domain's weight (the ratio's denominator)."""
    k, J, K = tot.shape
    T = tot[:, :-1, :].reshape(k, (J - 1) * K)
    if stat == "total":
        return T.copy()
    N = np.tile(tot[:, -1, :], (1, J - 1))
    res = np.full_like(T, np.nan)
    np.divide(T, N, out=res, where=N > 0)
    return res


def _drawn_rake_totals(cs: CalStep, drawn: CellSums, sub_cell: np.ndarray,
                       sub_dom: np.ndarray, K: int, n_rep: int, J: int, step: int,
                       advance: Callable[[int], None] | None) -> np.ndarray:
    """(n_rep, J + 1, K) calibrated totals of drawn replicates of a raked sample (J outcome
    columns, then the domain's weight): each replicate is
    drawn and re-raked in the same thread, while its cells are in cache."""
    cal = cs.cal
    tol, max_iter = rake_options(cs)
    kern = RakeKernel.build(cal.margin_index, cal.totals, tol=tol, max_iter=max_iter)
    m, ms = cal.X.shape[0], sub_cell.size
    g0 = np.ascontiguousarray(cal.g, dtype=float)
    tot = np.empty((n_rep, J + 1, K))
    status = np.zeros(n_rep, dtype=np.int64)
    error = np.zeros(n_rep)

    def part(u: int, v: int) -> None:
        A = np.empty((ms, J + 1))
        p_ = kern.totals.size
        scratch = (np.empty(m), np.empty(m), np.empty(p_), np.empty(p_))
        for r in range(u, v):
            drawn.sums(r, A)
            status[r], error[r] = kern.sums(A, sub_cell, sub_dom, g0, tot[r], scratch)

    for a in range(0, n_rep, step):
        b = min(a + step, n_rep)
        run_parts(lambda u, v, a=a: part(a + u, a + v), b - a)
        rake_status(cs, status[a:b], error[a:b], a)
        if advance is not None:
            advance(b - a)
    return tot
