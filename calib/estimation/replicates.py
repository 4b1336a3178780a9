"""Replicate weights (bootstrap, jackknife), each replicate recalibrated on cells.

* ``bootstrap`` (synonym ``subbootstrap``): Rao & Wu (1988) rescaling bootstrap: in each
  stratum draw ``n_h - 1`` of its ``n_h`` PSUs with replacement; a PSU drawn ``m`` times gets
  factor ``m n_h / (n_h - 1)`` (R ``as.svrepdesign(type="subbootstrap")``, ``subbootweights``).
  Variance ``sum_r (theta_r - mean)^2 / (R - 1)``.
* ``canty-davison``: Canty & Davison (1999) bootstrap, R ``as.svrepdesign(type="bootstrap")``
  (``bootweights``): in each stratum draw ``n_h`` of its ``n_h`` PSUs with replacement; a PSU
  drawn ``m`` times gets factor ``m``; variance ``n̄/((n̄ - 1)(R - 1)) sum_r (theta_r -
  mean)^2`` with ``n̄`` the harmonic mean of the PSUs per stratum (R's ``psu.per.strata``).
* ``jackknife``: JK1 without strata (drop one PSU, the others times ``n/(n-1)``, variance
  factor ``(n-1)/n``); JKn with strata (factor ``(n_h-1)/n_h`` for replicates of stratum h).
  A lonely stratum with ``lonely="adjust"`` / ``"adjust-zero"`` gets R ``jknweights``'s
  replicate: its PSU at 0, every PSU of the other strata times ``H/(H-1)`` (``H`` strata),
  rscale ``(H-1)/H``; with ``certainty`` / ``remove`` it has rscale 0 (R drops it).

Replicates are recalibrated with the sample's own weighting steps (method, options and
targets from ``sample.history``): a replicate changes only the cell totals (one bincount per
replicate), and the solver runs on cells for a chunk of replicates at once (raking: the
compiled batch IPF of :mod:`calib.estimation.compiled.ipf_batch`, warm-started at ``replicate cell
weight * g_full``; poststratification: closed form; calibration: Newton per replicate on
cells). :mod:`.cell_replicates` skips row-level replicate weights altogether.

With ``targets_se=True`` (bootstrap only) each replicate also perturbs the target totals of
margins that carry a standard error: every entry gets ``N(0, se)`` noise, then each
categorical margin is rescaled to the unperturbed population total, so all margins stay
consistent (the population count is taken as known; the shares are uncertain).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.core.literals import REPLICATE_METHODS, LonelyRule, ReplicateMethod, ReplicateType
from calib.core.sample import Sample
from calib.estimation.compiled.grouped import GROUP_MIN_ROWS, GROUP_SHARE
from calib.estimation.compiled.ipf_batch import NOT_CONVERGED, ipf_batch
from calib.estimation.design import PSUDesign, psu_design
from calib.estimation.linearization import CalStep, calibration_chain
from calib.weighting import distance as _distance
from calib.weighting import registry
from calib.weighting.calibrate import model_columns, solve_newton, used_columns
from calib.weighting.poststratify import cell_factors

__all__ = ["BOOTSTRAPS", "GROUP_MIN_ROWS", "GROUP_SHARE", "METHODS", "R_TYPES", "ReplicatePlan",
           "plan", "replicate_weights"]

METHODS: tuple[ReplicateMethod, ...] = REPLICATE_METHODS
#: Replicate bootstraps: ``bootstrap`` is Rao-Wu (R ``subbootstrap``), ``canty-davison`` is R's
#: ``bootstrap``.
BOOTSTRAPS = ("bootstrap", "canty-davison")
#: R ``svrepdesign`` / ``as.svrepdesign`` ``type`` of each replicate method.
R_TYPES = {"bootstrap": "subbootstrap", "canty-davison": "bootstrap", "JK1": "JK1",
           "JKn": "JKn"}
#: Row-by-replicate entries held in memory at once.
CHUNK_ENTRIES = 4_000_000


@dataclass(frozen=True)
class ReplicatePlan:
    """How replicates are drawn and combined.

    Attributes
    ----------
    method : ``bootstrap`` (Rao-Wu), ``canty-davison``, ``JK1`` or ``JKn``.
    n_rep : number of replicates.
    scale, rscales : variance = ``scale * sum_r rscales_r (theta_r - center)^2``.
    """

    method: ReplicateType
    n_rep: int
    scale: float
    rscales: np.ndarray
    design: PSUDesign
    seed: int | None

    @cached_property
    def seeds(self) -> list[np.random.SeedSequence]:
        return np.random.SeedSequence(self.seed).spawn(self.n_rep)

    @cached_property
    def boot(self) -> dict:
        """Bootstrap draws prepared once: PSUs sorted by stratum, multipliers, row positions."""
        d = self.design
        h = d.stratum_of_psu
        nh = d.n_psu
        if nh.size == 1:
            order = np.arange(h.size)
            row_pos = d.psu
        else:
            order = np.argsort(h, kind="stable")  # PSUs grouped by stratum
            inv = np.empty_like(order)
            inv[order] = np.arange(order.size)
            row_pos = inv[d.psu]
        nh_sorted = nh[h[order]].astype(float)
        offset = np.concatenate([[0], np.cumsum(nh)[:-1]])
        if self.method == "canty-davison":  # n_h of n_h, factor = times drawn (R bootweights)
            draws_h = np.repeat(np.arange(nh.size), nh)
            mult, add = np.ones(nh_sorted.size), np.zeros(nh_sorted.size)
        else:  # Rao-Wu: n_h - 1 of n_h, rescaled; a lonely stratum keeps factor 1
            lone = nh_sorted == 1
            draws_h = np.repeat(np.arange(nh.size), np.maximum(nh - 1, 0))
            mult = np.where(lone, 0.0, nh_sorted / np.maximum(nh_sorted - 1.0, 1.0))
            add = lone.astype(float)
        return {
            "row_pos": None if np.array_equal(row_pos, np.arange(row_pos.size)) else row_pos,
            "mult": mult,
            "add": add,
            "single": nh.size == 1,
            "n_draw": int(draws_h.size),
            "offset": offset[draws_h],
            "size": nh[draws_h].astype(float),
        }

    def psu_factors(self, r: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Bootstrap factors of replicate ``r`` per PSU, PSUs in stratum order, and the map
        ``row -> position`` in that order (None when it is the identity)."""
        d = self.design
        b = self.boot
        rng = np.random.default_rng(self.seeds[r])
        if b["single"]:
            pos = rng.integers(0, d.n_psus, b["n_draw"])
            fs = np.bincount(pos, minlength=d.n_psus) * b["mult"][0]
        else:
            pos = b["offset"] + (rng.random(b["size"].size) * b["size"]).astype(np.int64)
            fs = np.bincount(pos, minlength=d.n_psus) * b["mult"] + b["add"]
        return fs, b["row_pos"]

    def row_factors(self, start: int, stop: int) -> np.ndarray:
        """(stop-start, n_rows) replicate factors of replicates ``start..stop-1`` (reproducible).

        Each bootstrap replicate draws from its own ``SeedSequence(seed).spawn`` child, so the
        factors do not depend on how replicates are chunked.
        """
        d = self.design
        if self.method in BOOTSTRAPS:
            out = np.empty((stop - start, d.psu.size))
            for r in range(start, stop):
                fs, row_pos = self.psu_factors(r)
                out[r - start] = fs if row_pos is None else fs[row_pos]
            return out
        out = np.ones((stop - start, d.n_psus))
        h = d.stratum_of_psu
        nh = d.n_psu[h].astype(float)
        adjust = d.lonely in ("adjust", "adjust-zero")
        n_strata = d.n_psu.size
        for r, j in enumerate(range(start, stop)):
            hs = h[j]
            if d.n_psu[hs] == 1:
                if adjust:  # R jknweights: the PSU at 0, every other PSU times H/(H-1)
                    out[r] = n_strata / (n_strata - 1.0)
                    out[r, j] = 0.0
                # certainty / remove: the replicate equals the full sample (rscale 0)
                continue
            inside = h == hs
            out[r, inside] = nh[inside] / (nh[inside] - 1.0)
            out[r, j] = 0.0
        return out[:, d.psu]


def plan(
    sample: Sample, method: str, replicates: int = 200, seed: int | None = None,
    lonely: LonelyRule = "error",
) -> ReplicatePlan:
    """The replicate plan for ``sample``.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample
    >>> p = plan(Sample(pd.DataFrame({"y": [1, 2, 3, 4]})), "jackknife")
    >>> p.method, p.n_rep, p.scale
    ('JK1', 4, 0.75)
    """
    method = "bootstrap" if method == "subbootstrap" else method
    if method not in METHODS:
        raise DataError(f"replicate method {method!r}: choose one of {METHODS} "
                        "(or 'subbootstrap', a synonym of 'bootstrap')")
    d = psu_design(sample, lonely=lonely)
    if method in BOOTSTRAPS:
        if not isinstance(replicates, int | np.integer) or replicates < 2:
            raise DataError(f"replicates={replicates!r}: the bootstrap needs an integer >= 2")
        return ReplicatePlan(method, int(replicates), _boot_scale(method, d, int(replicates)),
                             np.ones(int(replicates)), d, seed)
    if d.n_psus < 2:
        raise DataError("the jackknife needs at least two PSUs")
    if sample.strata is None:
        return ReplicatePlan("JK1", d.n_psus, (d.n_psus - 1) / d.n_psus, np.ones(d.n_psus),
                             d, seed)
    nh = d.n_psu[d.stratum_of_psu].astype(float)
    rs = np.where(nh > 1, (nh - 1) / np.maximum(nh, 1), 0.0)
    if d.lonely in ("adjust", "adjust-zero") and d.n_psu.size > 1:
        h = d.n_psu.size  # R jknweights: a lonely stratum's replicate has rscale (H-1)/H
        rs = np.where(nh == 1, (h - 1.0) / h, rs)
    return ReplicatePlan("JKn", d.n_psus, 1.0, rs, d, seed)


def _boot_scale(method: str, d: PSUDesign, replicates: int) -> float:
    """``scale`` of a bootstrap: ``1/(R-1)`` (Rao-Wu, R ``subbootweights``), or R
    ``bootweights``'s ``n̄/((n̄-1)(R-1))`` with ``n̄`` the harmonic mean of the PSUs per
    stratum (Canty-Davison)."""
    if method == "bootstrap":
        return 1.0 / (replicates - 1)
    nbar = 1.0 / float(np.mean(1.0 / d.n_psu[d.n_psu > 0]))
    if nbar <= 1.0:
        raise DataError("variance='canty-davison' needs strata with more than one PSU (every "
                        "stratum has one); use variance='bootstrap' or 'jackknife'")
    return nbar / ((nbar - 1.0) * (replicates - 1))


def chunks(n_rows: int, n_rep: int) -> Iterator[tuple[int, int]]:
    k = max(1, min(n_rep, CHUNK_ENTRIES // max(n_rows, 1)))
    for a in range(0, n_rep, k):
        yield a, min(a + k, n_rep)


def replicate_rows(
    sample: Sample, p: ReplicatePlan, start: int, stop: int, targets_se: bool = False,
    chain: tuple[CalStep, ...] | None = None,
) -> np.ndarray:
    """(k, n) recalibrated replicate weights of replicates ``start..stop-1``."""
    if chain is None:
        chain, _ = calibration_chain(sample)
    others = [s.method for s in sample.history if not _replayable(s)]
    if others:
        raise DataError(
            f"replicate weights: weighting step(s) {others} cannot be replayed on replicates "
            f"(only {[m.name for m in registry.methods(replicates=True)]} can); use "
            "variance='linearization'"
        )
    base = sample.base_weights.to_numpy(dtype=float)
    W = p.row_factors(start, stop)
    if not (base == 1.0).all():
        W *= base[None, :]
    tseed = ((p.seed if p.seed is not None else 0), start) if targets_se else None
    by_step = {id(cs.step): cs for cs in chain}
    for s in sample.history:  # every step in order: recalibrate, or replay on the rows
        cs = by_step.get(id(s))
        if cs is None:
            W = registry.resolve(str(registry.method(s.method).rows))(W, dict(s.options), start)
            continue
        g = _recalibrate(cs, W, start, tseed)
        for r in range(W.shape[0]):
            W[r] *= g[r, cs.cal.row_cell]
    return W


def _replayable(s) -> bool:
    """Whether replicates can replay step ``s``: a calibration step of a method declaring
    replicates, or a step without calibration whose record names a ``rows`` replay."""
    m = registry.method(s.method)
    return m.replicates and (s.calibration is not None or m.rows is not None)


def _margin_sizes(cs: CalStep) -> list[int]:
    return [int(idx.max()) + 1 if idx.size else 0 for idx in cs.cal.margin_index]


def _perturbed_totals(cs: CalStep, k: int, tseed) -> np.ndarray:
    """(k, p) totals per replicate: the step's totals, perturbed by their se when asked.

    ``tseed = (seed, start)``: replicate ``start + r`` draws its noise from its own seed, so
    the noise does not depend on chunking.
    """
    cal = cs.cal
    T = np.broadcast_to(cal.totals, (k, cal.totals.size)).copy()
    if tseed is None or cs.step.targets is None:
        return T
    rngs = [np.random.default_rng(np.random.SeedSequence((tseed[0], 7919, tseed[1] + r)))
            for r in range(k)]
    tg = cs.step.targets
    cats = [mg for mg in tg if not mg.numeric]
    nums = [mg for mg in tg if mg.numeric]
    col = 0
    for mg in cats + nums:
        size = mg.values.size
        if mg.se is not None:
            z = np.stack([g.standard_normal(size) for g in rngs])
            noisy = T[:, col:col + size] + z * mg.se[None, :]
            if not mg.numeric:
                noisy = np.maximum(noisy, 1e-9 * max(mg.total, 1.0))
                noisy *= mg.values.sum() / noisy.sum(axis=1, keepdims=True)
            T[:, col:col + size] = noisy
        col += size
    return T


def _recalibrate(cs: CalStep, W: np.ndarray, start: int, tseed) -> np.ndarray:
    """(k, m) g factors of the replicates' cells for one calibration step (rows ``W``)."""
    m = cs.cal.X.shape[0]
    rc = cs.cal.row_cell
    Wc = np.stack([np.bincount(rc, weights=W[r], minlength=m) for r in range(W.shape[0])])
    return solve_replicates(cs, Wc, start, tseed)


def solve_replicates(cs: CalStep, Wc: np.ndarray, start: int, tseed) -> np.ndarray:
    """(k, m) g factors given the replicates' (k, m) cell weights.

    The step's method must declare replicate recalibration in the registry; its cell kernel
    says how a replicate is solved: the compiled batch IPF (``ipf``, warm-started), the
    poststratification closed form (``closed_form``) or the calibration Newton solve
    (``newton``), each the weighting module's own solve.
    """
    m = registry.method(cs.step.method)
    m.require("replicates", "replicate weights (use variance='linearization')")
    kernel = _KERNELS.get(m.kernel or "")
    if kernel is None:
        raise DataError(
            f"replicates cannot replay weighting step {m.name!r}: its registry record declares "
            f"replicates but kernel {m.kernel!r} has no replicate solve (one of "
            f"{sorted(_KERNELS)}); use variance='linearization'")
    k, _ = Wc.shape
    T = _perturbed_totals(cs, k, tseed)
    if m.kernel != "ipf":  # the raking kernel reports an empty margin entry itself
        _check_support(cs, Wc, _margin_sizes(cs), start)
    return kernel(cs, Wc, T, start)


def _ipf(cs: CalStep, Wc: np.ndarray, T: np.ndarray, start: int) -> np.ndarray:
    opts = cs.step.options
    if opts.get("cap") is not None:
        raise DataError("replicates of a rake with cap= are not supported; use "
                        "variance='linearization' or rake without cap")
    tol, max_iter = rake_options(cs)
    res = ipf_batch(Wc * cs.cal.g[None, :], cs.cal.margin_index, T, tol=tol, max_iter=max_iter,
                    copy=False)
    rake_status(cs, res.status, res.error, start)
    g = np.ones(Wc.shape)
    np.divide(res.weight, Wc, out=g, where=Wc > 0)
    return g


def _closed_form(cs: CalStep, Wc: np.ndarray, T: np.ndarray, start: int) -> np.ndarray:
    idx = cs.cal.margin_index[0]
    return np.stack([cell_factors(idx, Wc[r], T[r]) for r in range(Wc.shape[0])])


def _newton(cs: CalStep, Wc: np.ndarray, T: np.ndarray, start: int) -> np.ndarray:
    cal = cs.cal
    opts = {**registry.method(cs.step.method).defaults(), **cs.step.options}
    if opts.get("trim") is not None:
        raise DataError("replicates of calibrate(trim=...) are not supported; use "
                        "variance='linearization'")
    dist = _distance.get(str(opts["distance"]).replace("truncated", "linear"))
    L, U = opts["bounds"] if opts["bounds"] is not None else (-np.inf, np.inf)
    used = used_columns(cal.X, cal.totals)
    Xu = cal.X[:, used]
    model = model_columns([lab for lab, u in zip(cal.labels, used, strict=True) if u])
    g = np.ones(Wc.shape)
    for r in range(Wc.shape[0]):
        res, _ = solve_newton(Xu, Wc[r], T[r, used], dist, (L, U), tol=float(opts["tol"]),
                              max_iter=int(opts["max_iter"]), model=model)
        if not res.converged:
            raise DataError(
                f"replicate {start + r + 1}: calibrate ({dist.name}, bounds {(L, U)}) did "
                f"not converge on the replicate (misfit {res.max_error:.3g}); widen the "
                "bounds or use variance='linearization'")
        g[r] = res.g
    return g


#: registry kernel -> replicate solve of a chunk of replicates.
_KERNELS = {"ipf": _ipf, "closed_form": _closed_form, "newton": _newton}


def rake_options(cs: CalStep) -> tuple[float, int]:
    """The rake's own tolerance, and five times its sweeps (replicates start warm but may be
    thinner than the sample)."""
    opts = {**registry.method(cs.step.method).defaults(), **cs.step.options}
    return float(opts["tol"]), int(opts["max_iter"]) * 5


def rake_status(cs: CalStep, status: np.ndarray, error: np.ndarray, start: int) -> None:
    """Raise for replicates the raking kernel could not rake (``start``: the first's number)."""
    empty = np.flatnonzero(status <= -2)
    if empty.size:
        r = int(empty[0])
        _empty_margin(cs, -2 - int(status[r]), start + r)
    if (status == NOT_CONVERGED).any():
        raise DataError(
            f"replicate raking did not converge (largest margin factor off 1 by "
            f"{float(error.max()):.3g}); a replicate is too thin for the margins: use "
            "fewer levels or variance='linearization'")


def _empty_margin(cs: CalStep, entry: int, replicate: int) -> None:
    name, level = cs.cal.labels[entry]
    raise DataError(
        f"replicate {replicate + 1} has no weight in margin {name!r} level {level!r}, so it "
        "cannot be recalibrated; collapse that level into a neighbour, or use "
        "variance='jackknife' or 'linearization'")


def _check_support(cs: CalStep, Wc: np.ndarray, sizes: list[int], start: int) -> None:
    col = 0
    for idx, s in zip(cs.cal.margin_index, sizes, strict=True):
        for r in range(Wc.shape[0]):
            got = np.bincount(idx, weights=Wc[r], minlength=s)
            t = cs.cal.totals[col:col + s]
            empty = np.flatnonzero((got <= 0) & (t > 0))
            if empty.size:
                _empty_margin(cs, col + int(empty[0]), start + r)
        col += s


def replicate_weights(
    sample: Sample,
    method: ReplicateMethod = "bootstrap",
    replicates: int = 200,
    seed: int | None = None,
    *,
    lonely: LonelyRule = "error",
    targets_se: bool = False,
) -> pd.DataFrame:
    """Recalibrated replicate weights, rows x replicates.

    Parameters
    ----------
    sample : a (weighted) Sample; every calibration step is replayed on every replicate.
    method : ``"bootstrap"`` (Rao-Wu rescaling, R's ``subbootstrap``; ``"subbootstrap"`` is
        a synonym), ``"canty-davison"`` (R's ``bootstrap``) or ``"jackknife"`` (JK1, JKn
        with strata).
    replicates : bootstrap replicates (the jackknife has one per PSU).
    seed : bootstrap seed (reproducible).
    lonely : single-PSU strata (see :func:`calib.estimation.design.psu_design`).
    targets_se : perturb targets that carry a standard error (bootstrap only).

    Returns
    -------
    pandas.DataFrame
        ``rep_1 .. rep_R`` aligned to the sample's rows; ``attrs`` hold ``type`` (the plan:
        ``bootstrap``, ``canty-davison``, ``JK1``, ``JKn``), ``r_type`` (R's ``svrepdesign``
        ``type``), ``scale`` and ``rscales`` (R ``svrepdesign`` arguments) and ``mse=False``.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample
    >>> rw = replicate_weights(Sample(pd.DataFrame({"y": [1, 2, 3]})), "jackknife")
    >>> rw.round(3).values.tolist(), rw.attrs["type"], rw.attrs["scale"]
    ([[0.0, 1.5, 1.5], [1.5, 0.0, 1.5], [1.5, 1.5, 0.0]], 'JK1', 0.6666666666666666)
    """
    p = plan(sample, method, replicates, seed, lonely)
    if targets_se and p.method != "bootstrap":
        raise DataError("targets_se=True needs method='bootstrap' (the jackknife would shrink "
                        "the target noise by its (n-1)/n factor)")
    out = np.empty((sample.n, p.n_rep))
    for a, b in chunks(sample.n, p.n_rep):
        out[:, a:b] = replicate_rows(sample, p, a, b, targets_se).T
    df = pd.DataFrame(out, index=sample.frame.index,
                      columns=[f"rep_{i + 1}" for i in range(p.n_rep)])
    df.attrs.update(type=p.method, r_type=R_TYPES[p.method], scale=p.scale,
                    rscales=p.rscales.tolist(), mse=False)
    return df
