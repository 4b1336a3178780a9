"""Bootstrap replicates' cell sums without per-row draws: groups of identical rows, or cells.

A replicate estimate after one calibration step needs only, per calibration cell, the sums of
``f_i w_i`` and ``f_i w_i y_i`` (``f_i`` the Rao-Wu factor of row i). When rows are the PSUs,
the Rao-Wu draw of ``n_h - 1`` of stratum h's ``n_h`` rows with replacement gives row counts
``Multinomial(n_h - 1, 1/n_h)``, and these sums can be drawn without touching every row:

* **groups**: rows identical in (stratum, cell, base weight, outcome values) are grouped once;
  the group counts are ``Multinomial(n_h - 1, size_g / n_h)`` (sums of multinomial cells), drawn
  at O(groups) per replicate (:mod:`.multinomial`). For categorical outcomes.
* **cells, then rows**: otherwise (a continuous outcome) the counts of the (stratum, cell)
  blocks are drawn first, ``Multinomial(n_h - 1, size_b / n_h)``, then each block's count is
  spread over its rows uniformly with replacement (the conditional law of the row counts given
  the block counts): one uniform and one gather per drawn item, no pass over undrawn rows.

Both are the distribution of the row draw exactly (not its values: the replicate weights that
:func:`.replicates.replicate_weights` exports draw rows with numpy and differ by Monte Carlo
error only). Clustered designs draw the PSUs as the row path does (a group takes its PSU's
factor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from calib.estimation.compiled.multinomial import ExactMultinomial, seed_state, uniform

#: The grouped draw is used when rows collapse to at most this share of groups ...
GROUP_SHARE = 0.25
#: ... and, with ``bootstrap_draw="auto"``, the compiled draws from this many rows on.
GROUP_MIN_ROWS = 100_000


def factorize_rows(columns: list[tuple[np.ndarray, int | None]],
                    limit: int) -> tuple[np.ndarray, int] | None:
    """Group codes of rows identical in every column, or None as soon as one column has more
    than ``limit`` distinct values. A column comes with its number of codes when it is already
    coded ``0..k-1`` (then it is not hashed again)."""
    key = np.zeros(columns[0][0].size, dtype=np.int64)
    span = 1
    for col, k in columns:
        if k is None:
            codes, k = _codes(col)
            if k > limit:
                return None
        else:
            codes = col
        k = int(k)
        if k <= 1:  # a constant column splits nothing
            continue
        if span * k >= 2**62:  # compact before the key could overflow
            key, uniq = pd.factorize(key)
            span = len(uniq)
        key = key * k + codes
        span *= k
    if span == 1:
        return key, 1
    if span <= 4 * key.size:  # compact by presence: no hashing
        present = np.zeros(span, dtype=bool)
        present[key] = True
        code = np.cumsum(present) - 1
        return code[key], int(present.sum())
    key, uniq = pd.factorize(key)
    return np.asarray(key, dtype=np.int64), len(uniq)


def _codes(col: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes ``0..k-1`` of a column's distinct values; constant and 0/1 columns without
    hashing."""
    if col.size and col.dtype.kind == "f":
        if (col == col[0]).all():
            return np.zeros(col.size, dtype=np.int64), 1
        if ((col == 0.0) | (col == 1.0)).all():
            return col.astype(np.int64), 2
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    return codes, len(uniques)


def _surely_many(col: np.ndarray, limit: int, probe: int = 20_000) -> bool:
    """True when the first ``probe`` values alone already hold more than ``limit`` distinct
    values, or nearly all distinct (a continuous column), so hashing all of it would be wasted.
    Only chooses between two exact draws."""
    head = col[:probe]
    k = np.unique(head).size
    return k > limit or (col.size > 2 * probe and k > 0.9 * head.size)


@numba.njit(cache=True)
def _counting_order(key, k):  # pragma: no cover - numba
    """A stable order of ``key`` (codes ``0..k-1``): a counting sort, O(n + k)."""
    pos = np.zeros(k + 1, np.int64)
    for v in key:
        pos[v + 1] += 1
    for j in range(k):
        pos[j + 1] += pos[j]
    out = np.empty(key.size, np.int64)
    for i in range(key.size):
        out[pos[key[i]]] = i
        pos[key[i]] += 1
    return out


def first_rows(code: np.ndarray, n_codes: int) -> np.ndarray:
    """A row of each code ``0..n_codes-1`` (its first row)."""
    rep = np.empty(n_codes, dtype=np.int64)
    rep[code[::-1]] = np.arange(code.size)[::-1]
    return rep


def _weighted(weight: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Columns ``weight, weight * values_j``: what a replicate sums per cell."""
    return np.column_stack([weight, weight[:, None] * values])


@dataclass(frozen=True)
class RowGroups:
    """Rows identical in what a replicate estimate depends on: the drawing unit (the stratum
    when rows are the PSUs, else the PSU), the calibration cell, the base weight and the
    outcome/domain columns. ``cell, weight, values, unit`` are per group; ``size`` counts rows.
    """

    n_groups: int
    size: np.ndarray
    cell: np.ndarray
    weight: np.ndarray
    values: np.ndarray
    unit: np.ndarray
    rows_are_psus: bool


def _unit(p) -> tuple[np.ndarray, bool]:
    d = p.design
    if d.n_psus == d.psu.size:
        return d.stratum_of_psu[d.psu], True
    b = p.boot
    return (d.psu if b["row_pos"] is None else b["row_pos"]), False


def row_groups(p, rc: np.ndarray, base: np.ndarray, YD: np.ndarray,
               share: float = GROUP_SHARE) -> RowGroups | None:
    """:class:`RowGroups` of a bootstrap plan, or None when the rows do not collapse to at most
    ``share * n`` groups (a continuous outcome)."""
    n = rc.size
    unit, rows_are_psus = _unit(p)
    m = int(rc.max()) + 1 if n else 1
    cols: list[tuple[np.ndarray, int | None]] = [(unit, int(unit.max()) + 1 if n else 1), (rc, m)]
    if not (base == 1.0).all():
        cols.append((base, None))
    limit = int(share * n)
    if any(_surely_many(c, limit) for c in YD.T):
        return None
    cols += [(c, None) for c in YD.T]
    got = factorize_rows(cols, limit)
    if got is None or got[1] > share * n:
        return None
    key, G = got
    rep = first_rows(key, G)
    return RowGroups(G, np.bincount(key, minlength=G).astype(float), rc[rep], base[rep],
                     YD[rep], unit[rep], rows_are_psus)


def _stratum_draws(p) -> tuple[np.ndarray, np.ndarray]:
    """Per stratum: items drawn (``n_h - 1``; 0 for a lonely stratum, kept as it is) and the
    factor of one draw (``n_h / (n_h - 1)``; 0 for a lonely stratum)."""
    nh = p.design.n_psu.astype(np.int64)
    lone = nh <= 1
    n_draw = np.where(lone, 0, nh - 1)
    fac = np.where(lone, 0.0, nh / np.maximum(nh - 1.0, 1.0))
    return n_draw, fac


def group_factors(p, g: RowGroups, r: int) -> np.ndarray:
    """Replicate ``r``'s summed bootstrap factor of each group (the sum over its rows), as
    :class:`CellSums` uses them for the same replicate."""
    if not g.rows_are_psus:
        fs, _ = p.psu_factors(r)
        return fs[g.unit] * g.size
    n_draw, fac = _stratum_draws(p)
    em = ExactMultinomial.build(g.size, g.unit, n_draw)
    counts = em.counts(seed_state(p.seeds[r], 8)[:4])
    lone = n_draw[g.unit] == 0
    return np.where(lone, g.size, counts * fac[g.unit])


@numba.njit(cache=True, nogil=True)
def _spread(state, count, row_start, row_size, fac, cell, wv, out):  # pragma: no cover
    """Each block's ``count`` spread over its rows uniformly with replacement:
    ``out[cell[b]] += fac[b] * wv[row]`` per drawn row (rows of a block contiguous in ``wv``);
    a block's sums are kept in registers for two columns (weight and a numeric outcome: the
    usual case here), in a small array otherwise."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    J = wv.shape[1]
    acc = np.zeros(J)
    for b in range(count.size):
        k = np.int64(count[b])
        if k == 0:
            continue
        a = row_start[b]
        size = np.float64(row_size[b])
        c, f = cell[b], fac[b]
        if J == 2:
            a0 = 0.0
            a1 = 0.0
            for _ in range(k):
                u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                i = a + np.int64(u * size)
                a0 += wv[i, 0]
                a1 += wv[i, 1]
            out[c, 0] += f * a0
            out[c, 1] += f * a1
        else:
            acc[:] = 0.0
            for _ in range(k):
                u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
                i = a + np.int64(u * size)
                for j in range(J):
                    acc[j] += wv[i, j]
            for j in range(J):
                out[c, j] += f * acc[j]


@dataclass
class CellSums:
    """Per replicate, the (m, J+1) cell sums of ``f w`` and ``f w v_j`` (v: the outcome and
    domain columns) of a bootstrap plan whose rows are the PSUs, drawn as the module text says.
    Build with :meth:`build`; ``draw`` names the path for ``attrs["bootstrap_draw"]``."""

    draw: str
    sums: Callable[[int, np.ndarray], np.ndarray]

    @classmethod
    def build(cls, p, rc: np.ndarray, base: np.ndarray, YD: np.ndarray, m: int) -> CellSums:
        seeds = p.seeds  # the replicates' seeds, made once here (``sums`` runs in threads)
        unit, rows_are_psus = _unit(p)
        g = row_groups(p, rc, base, YD)
        if not rows_are_psus:  # clustered: the PSU draw of the row path, per group
            if g is None:
                g = RowGroups(rc.size, np.ones(rc.size), rc, base, YD, unit, False)
            gwv = _weighted(g.weight, g.values)

            def sums(r: int, out: np.ndarray) -> np.ndarray:
                F = group_factors(p, g, r)
                for j in range(out.shape[1]):
                    out[:, j] = np.bincount(g.cell, weights=F * gwv[:, j], minlength=m)
                return out

            return cls(f"groups ({g.n_groups:,} groups of rows in the same PSU)", sums)
        n_draw, fac = _stratum_draws(p)
        lone_rows = n_draw[unit] == 0
        fixed = np.zeros((m, YD.shape[1] + 1))
        if lone_rows.any():  # lonely strata keep their rows' weights (factor 1)
            lwv = _weighted(base[lone_rows], YD[lone_rows])
            for j in range(fixed.shape[1]):
                fixed[:, j] = np.bincount(rc[lone_rows], weights=lwv[:, j], minlength=m)
        if g is not None:
            em = ExactMultinomial.build(g.size, g.unit, n_draw)
            o = slice(None) if em.order is None else em.order
            gcell = np.ascontiguousarray(g.cell[o])
            gwv = np.ascontiguousarray(_weighted(g.weight, g.values)[o])

            def sums(r: int, out: np.ndarray) -> np.ndarray:
                em.cell_sums(seed_state(seeds[r], 8)[:4], fac, gcell, gwv, out)
                out += fixed
                return out

            return cls(f"groups ({g.n_groups:,} groups of identical rows)", sums)
        # blocks of (stratum, cell); their rows made contiguous, blocks in the sampler's order
        got = factorize_rows([(unit, int(unit.max()) + 1), (rc, m)], rc.size)
        assert got is not None  # at most rc.size blocks: the limit is never passed
        block, B = got
        bsize = np.bincount(block, minlength=B).astype(float)
        first = first_rows(block, B)
        bunit, bcell = unit[first], rc[first]
        em = ExactMultinomial.build(bsize, bunit, n_draw)
        o = np.arange(B) if em.order is None else em.order
        rank = np.empty(B, dtype=np.int64)
        rank[o] = np.arange(B)
        row_order = _counting_order(rank[block], B)
        rwv = _weighted(base[row_order], YD[row_order])
        sizes = bsize[o].astype(np.int64)
        rows = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        bfac = fac[bunit[o]]
        bcell_o = np.ascontiguousarray(bcell[o])

        def sums(r: int, out: np.ndarray) -> np.ndarray:
            state = seed_state(seeds[r], 8)
            out[:] = fixed
            _spread(state[4:], em.draw_sorted(state[:4]), rows, sizes, bfac, bcell_o, rwv, out)
            return out

        return cls(f"cells then rows ({B:,} stratum x cell blocks of {rc.size:,} rows)", sums)
