"""Exact multinomial counts at O(categories) per draw, compiled: Poisson draws, then a fix-up.

Rao & Wu's bootstrap draws ``N_h = n_h - 1`` of a stratum's ``n_h`` rows with replacement, so
the counts of groups of identical rows (or of the rows themselves) are
``Multinomial(N_h, size_g / n_h)``. numpy draws a multinomial as one conditional binomial per
category (about 115 ns each); this module draws the same distribution in a few ns per
category:

1. ``X_g ~ Poisson(lam_h p_g)`` independently, by inversion of the Poisson CDF: tabled once
   per distinct mean (categories of equal size share one) and searched from a guide table
   (indexed search, Chen & Asau 1974: one or two comparisons per draw), or, past a memory
   budget of table entries, walked from the mode; ``lam_h = N_h - slack sqrt(N_h)`` is a
   little below ``N_h``;
2. given their sum ``K_h = k``, ``X`` is ``Multinomial(k, p)`` (Poisson splitting); a draw
   with ``k > N_h`` in some stratum (probability about 1e-3 per stratum at ``slack=3``) is
   rejected and redrawn, which leaves ``X | K = k`` multinomial;
3. ``N_h - k`` more items are drawn one by one from ``p`` (about ``slack sqrt(N_h)``
   categorical draws).

Given every ``k`` the result is ``Multinomial(N_h, p)``, so it is exactly multinomial, not an
approximation (Devroye 1986, *Non-Uniform Random Variate Generation*, ch. XI.1 and X.3).
Uniforms come from xoshiro256+ (Blackman & Vigna 2018) run inside the compiled kernel, seeded
from a ``numpy.random.SeedSequence`` (each replicate its own spawned child). The kernel can
also add each category's count, times its stratum's factor, times a row of values, into cell
sums: a bootstrap replicate's per-cell totals without any per-row array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import gammaln, pdtr

from calib.core.errors import DataError

#: ``lam_h = N_h - SLACK sqrt(N_h)``: the Poisson total exceeds ``N_h`` (and the draw is
#: redrawn) in about 1e-3 of draws per stratum.
SLACK = 3.0

_U = numba.uint64


@numba.njit(inline="always")
def uniform(s0, s1, s2, s3):  # pragma: no cover - numba
    """xoshiro256+ (Blackman & Vigna 2018): a uniform on [0, 1) from the top 53 bits, and the
    next state (kept in registers by the caller)."""
    r = s0 + s3
    t = s1 << _U(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _U(45)) | (s3 >> _U(19))
    return np.float64(np.int64(r >> _U(11))) * (1.0 / 9007199254740992.0), s0, s1, s2, s3


@numba.njit(cache=True, nogil=True)
def _pass(s0, s1, s2, s3, a, b, tab, toff, twidth, tkmin, cdf, guide, lam, mode, pmf_mode,  # noqa: PLR0913 - numba kernel
          cdf_mode, fh, cell, wv, out):  # pragma: no cover - numba
    """Poisson counts of categories ``a..b-1`` (one stratum), added into ``out``."""
    kh = 0
    J = wv.shape[1]
    for i in range(a, b):
        u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
        t = tab[i]
        if t >= 0:  # the mean's CDF table, entered through its guide table
            o = toff[t]
            k = guide[o + np.int64(u * twidth[t])]
            while u > cdf[o + k]:
                k += 1
            k += tkmin[t]
        else:  # inversion walked from the mode
            k = mode[i]
            p = pmf_mode[i]
            F = cdf_mode[i]
            if u <= F:
                while k > 0 and u <= F - p:
                    F -= p
                    p *= k / lam[i]
                    k -= 1
            else:
                while F < u and p > 0.0:
                    k += 1
                    p *= lam[i] / k
                    F += p
        if k:
            kh += k
            c = cell[i]
            f = k * fh
            for j in range(J):
                out[c, j] += f * wv[i, j]
    return kh, s0, s1, s2, s3


@numba.njit(cache=True, nogil=True)
def _draw(state, tab, toff, twidth, tkmin, cdf, guide, lam, mode, pmf_mode, cdf_mode, n_draw,  # noqa: PLR0913 - numba kernel
          fac, rel, cguide, start, stop, cell, wv, out):  # pragma: no cover - numba
    """One draw from the xoshiro256+ ``state`` (4 words; categories sorted by stratum):
    ``out[cell[g], j] += count_g * fac[h] * wv[g, j]`` (``out`` is zeroed first)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    H = n_draw.size
    J = wv.shape[1]
    K = np.zeros(H, np.int64)
    ok = False
    while not ok:  # redrawn (all strata) when a stratum's Poisson total exceeds its n_draw
        out[:] = 0.0
        ok = True
        for h in range(H):
            kh, s0, s1, s2, s3 = _pass(s0, s1, s2, s3, start[h], stop[h], tab, toff, twidth,
                                       tkmin, cdf, guide, lam, mode, pmf_mode, cdf_mode,
                                       fac[h], cell, wv, out)
            K[h] = kh
            if kh > n_draw[h]:
                ok = False
                break
    for h in range(H):  # the missing items, one by one from p
        a, b = start[h], stop[h]
        fh = fac[h]
        for _ in range(n_draw[h] - K[h]):
            u, s0, s1, s2, s3 = uniform(s0, s1, s2, s3)
            i = cguide[a + np.int64(u * (b - a))]  # the category whose share interval
            while i < b - 1 and rel[i] <= u:  # (rel[i-1], rel[i]] holds u, from its guide
                i += 1
            c = cell[i]
            for j in range(J):
                out[c, j] += fh * wv[i, j]


#: Most CDF-table entries (all tables together) an :class:`ExactMultinomial` keeps; means
#: beyond the budget walk from the mode instead.
TABLE_BUDGET = 2_000_000


def _tables(lam: np.ndarray):
    """CDF and guide tables of the distinct means of ``lam``, most frequent first, within
    :data:`TABLE_BUDGET` entries. A table covers ``kmin..kmax``, 9 sd below and 10 sd (+16)
    above the mean: the Poisson mass outside is below 1e-17, under the 2**-53 resolution of a
    uniform (tested against the untabled walk, which has no cut)."""
    values, inverse, counts = np.unique(lam, return_inverse=True, return_counts=True)
    sd = np.sqrt(values)
    kmin = np.maximum(np.floor(values - 9.0 * sd - 2.0), 0.0).astype(np.int64)
    kmax = np.ceil(values + 10.0 * sd + 16.0).astype(np.int64)
    width = kmax - kmin + 1
    keep = np.zeros(values.size, dtype=bool)
    used = 0
    for v in np.argsort(-counts, kind="stable"):
        if used + width[v] > TABLE_BUDGET:
            break
        keep[v] = True
        used += int(width[v])
    ids = np.full(values.size, -1, dtype=np.int64)
    ids[keep] = np.arange(int(keep.sum()))
    kv = np.flatnonzero(keep)
    toff = np.concatenate([[0], np.cumsum(width[kv])[:-1]]).astype(np.int64)
    wk = width[kv]
    table_of = np.repeat(np.arange(kv.size), wk)  # the table of every entry
    j = np.arange(used) - toff[table_of]  # entry number within its table
    cdf = pdtr(kmin[kv][table_of] + j, values[kv][table_of])
    cdf[toff + wk - 1] = 1.0  # the last entry of each table: the far tail
    # guide[o + j]: the first entry of the table whose CDF reaches j / w, so a uniform in
    # [j/w, (j+1)/w) searches on from there (CDF plus table number keeps tables apart)
    guide = np.searchsorted(cdf + 2.0 * table_of, j / wk[table_of] + 2.0 * table_of,
                            side="left") - toff[table_of]
    guide = np.minimum(guide, wk[table_of] - 1).astype(np.int32)
    return (ids[inverse], toff, wk.astype(np.int64), kmin[kv], cdf, guide)


def seed_state(seed, words: int = 4) -> np.ndarray:
    """``words`` 64-bit words (4 per xoshiro256+ state) from a seed: an int, a
    ``numpy.random.SeedSequence``, or already a state (a uint64 array, returned as it is)."""
    if isinstance(seed, np.ndarray) and seed.dtype == np.uint64:
        return seed
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.generate_state(words, np.uint64)


@dataclass(frozen=True)
class ExactMultinomial:
    """Independent ``Multinomial(n_draw[h], weight_g / sum_h weight)`` per stratum ``h``.

    Build with :meth:`build`; :meth:`draw` and :meth:`counts` return counts, :meth:`cell_sums`
    the count-weighted sums of values per cell.

    Examples
    --------
    >>> import numpy as np
    >>> em = ExactMultinomial.build(np.array([1.0, 3.0, 6.0]), np.zeros(3, int),
    ...                             np.array([1000]))
    >>> x = em.draw(np.random.default_rng(1))
    >>> int(x.sum()), x.size
    (1000, 3)
    """

    order: np.ndarray | None  # categories by stratum, then weight (None: already so)
    n_draw: np.ndarray  # (H,) draws per stratum
    tab: np.ndarray  # table of each category (-1: walk from the mode)
    toff: np.ndarray  # per table: offset of its CDF and guide entries
    twidth: np.ndarray  # per table: entries
    tkmin: np.ndarray  # per table: the count of its first entry
    cdf: np.ndarray  # CDF tables, side by side
    guide: np.ndarray  # guide tables, side by side (same offsets)
    lam: np.ndarray
    mode: np.ndarray
    pmf_mode: np.ndarray
    cdf_mode: np.ndarray
    rel: np.ndarray  # cumulative share of the weight within the stratum, in sorted order
    cguide: np.ndarray  # guide into ``rel``: the first category past each 1/G_h step
    start: np.ndarray  # (H,) first category of each stratum, sorted order
    stop: np.ndarray

    @classmethod
    def build(cls, weight: np.ndarray, stratum: np.ndarray, n_draw: np.ndarray,
              slack: float = SLACK) -> ExactMultinomial:
        """Tables for categories of positive ``weight`` in strata ``stratum`` (codes
        ``0..H-1``), drawing ``n_draw[h]`` items in stratum ``h``; ``slack`` as in the module
        text."""
        weight = np.asarray(weight, dtype=float)
        stratum = np.asarray(stratum, dtype=np.int64)
        n_draw = np.asarray(n_draw, dtype=np.int64)
        if np.any(weight <= 0) or not np.all(np.isfinite(weight)):
            raise DataError("ExactMultinomial: every weight must be positive and finite")
        # by stratum, then by weight: categories of one mean (one table) come together
        order = np.lexsort((weight, stratum))
        if np.array_equal(order, np.arange(order.size)):
            order = None
        else:
            weight, stratum = weight[order], stratum[order]
        H = n_draw.size
        total = np.bincount(stratum, weights=weight, minlength=H)
        cum = np.cumsum(weight)
        base = np.concatenate([[0.0], np.cumsum(total)[:-1]])
        bounds = np.searchsorted(stratum, np.arange(H + 1))
        start, stop = bounds[:-1], bounds[1:]
        nd = n_draw.astype(float)
        lam_h = np.maximum(nd - slack * np.sqrt(nd), 0.0)
        lam = lam_h[stratum] * weight / np.where(total > 0, total, 1.0)[stratum]
        tables = _tables(lam)
        mode = np.floor(lam).astype(np.int64)
        pmf = np.ones(lam.size)
        cdf = np.ones(lam.size)
        walk = (tables[0] < 0) & (lam > 0)  # the mode's pmf and CDF, for untabled means
        if walk.any():
            lw, kw = lam[walk], mode[walk]
            pmf[walk] = np.exp(-lw + kw * np.log(lw) - gammaln(kw + 1.0))
            cdf[walk] = pdtr(kw, lw)
        # categorical draws of the fix-up: inversion of the within-stratum cumulative shares,
        # entered through a guide table (the first category past j / G_h)
        rel = (cum - base[stratum]) / np.where(total > 0, total, 1.0)[stratum]
        Gh = (stop - start)[stratum]
        j = np.arange(stratum.size) - start[stratum]
        cguide = np.searchsorted(rel + 2.0 * stratum, j / np.maximum(Gh, 1) + 2.0 * stratum,
                                 side="right")
        cguide = np.minimum(cguide, stop[stratum] - 1)
        return cls(order, n_draw, *tables, lam, mode, pmf, cdf, rel, cguide, start, stop)

    def cell_sums(self, seed, fac: np.ndarray, cell: np.ndarray, wv: np.ndarray,
                  out: np.ndarray) -> np.ndarray:
        """``out[c, j] = sum over categories g in cell c of count_g fac[h_g] wv[g, j]`` for
        the draw of ``seed`` (an int or a ``SeedSequence``). ``cell`` and ``wv`` are in the
        sampler's order (``order``: by stratum, then weight); ``out`` (m, J) is overwritten."""
        _draw(seed_state(seed), self.tab, self.toff, self.twidth, self.tkmin, self.cdf,
              self.guide, self.lam, self.mode, self.pmf_mode, self.cdf_mode, self.n_draw, fac,
              self.rel, self.cguide, self.start, self.stop, cell, wv, out)
        return out

    def draw_sorted(self, seed) -> np.ndarray:
        """Counts in the sampler's order (``order``) from ``seed``: the counts that
        :meth:`cell_sums` uses for the same seed."""
        G = self.lam.size
        out = self.cell_sums(seed, np.ones(self.n_draw.size), np.arange(G), np.ones((G, 1)),
                             np.empty((G, 1)))
        return np.rint(out[:, 0]).astype(np.int64)

    def counts(self, seed) -> np.ndarray:
        """The counts of :meth:`draw_sorted` in the categories' original order (int64)."""
        x = self.draw_sorted(seed)
        if self.order is None:
            return x
        out = np.empty_like(x)
        out[self.order] = x
        return out

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One set of counts (int64, in the categories' original order); ``rng`` gives the
        seed."""
        return self.counts(int(rng.integers(2**63)))
