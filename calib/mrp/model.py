"""Multilevel regression on cells with PyMC: :func:`fit` and the :class:`MRPFit` result.

The sample is collapsed to its cells (:func:`calib.core.cells.collapse`) with the outcome counts per
cell, and the likelihood is binomial (``family="binomial"``) or multinomial
(``family="categorical"``) on those counts: a 1M-row persona set becomes a few thousand cells.

Model and priors (logit scale; categorical: one copy per non-reference category, softmax)::

    eta[cell] = Intercept + sum_g b_g[level_g(cell)] + X[cell] @ beta
    Intercept ~ Normal(0, 2.5)
    b_g = sd_g * z_g,  z_g ~ ZeroSumNormal(1)       (non-centred)   or
    b_g ~ ZeroSumNormal(sd_g)                        (centred)
    sd_g ~ HalfNormal(1)
    beta (fixed effects, slopes on standardized predictors) ~ Normal(0, 2.5)

The varying intercepts are **sum-to-zero** (``pm.ZeroSumNormal``): the intercept is then the
grand mean and not confounded with the group effects, which is what makes large cell tables
sample quickly. ``Sampler(centered="auto")`` picks, per group term, the centred form when the
smallest per-level count (over levels with data) is at least ``center_min`` (default 100 rows:
the data then pin each level and the non-centred funnel is the harder geometry), else the
non-centred one; ``True``/``False`` or ``{term: bool}`` override it. The sample's weights are **not** used (MRP is model-based: the
frame does the weighting).

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> LOOSE = {"max_rhat": 1.05, "min_ess_bulk": 50, "min_ess_tail": 50}  # tiny demo fit
>>> df = pd.DataFrame({"g": rng.choice(list("abcd"), 400)})
>>> df["y"] = (rng.random(400) < np.where(df["g"] == "a", 0.8, 0.3)).astype(int)
>>> f = fit(df, "y", group_effects=["g"], gate=Gate("warn", **LOOSE),
...         sampler=Sampler(draws=300, tune=300, chains=2, backend="nutpie", seed=1))
>>> f.cells.n_cells, f.spec.term("g").levels
(4, ('a', 'b', 'c', 'd'))
>>> e = f.effects("g")
>>> bool(e.loc[e["level"] == "a", "mean"].iloc[0] > 0.5)
True
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from calib.core.cells import CellTable, collapse, encode
from calib.core.errors import DataError
from calib.core.html import html_block, html_table
from calib.core.literals import Family, SamplerBackend
from calib.core.progress import progress_bar, show
from calib.core.threads import usable_cpus
from calib.mrp.diagnostics import Gate, check, posterior_table
from calib.mrp.diagnostics import divergences as n_divergent
from calib.mrp.poststrat import MRPEstimate, poststratify
from calib.mrp.sampler import CENTER_MIN, Sampler
from calib.mrp.spec import (
    DomainPredictors,
    ModelSpec,
    Term,
    build_spec,
    encode_for_spec,
    encode_outcome,
)


def _frame_of(sample: Any) -> pd.DataFrame:
    if isinstance(sample, pd.DataFrame):
        return sample
    frame = getattr(sample, "frame", None)
    if isinstance(frame, pd.DataFrame):
        return frame
    raise DataError(f"fit needs a calib.Sample or a pandas DataFrame, got {type(sample).__name__}")


def _coords(spec: ModelSpec) -> dict[str, list[str]]:
    coords: dict[str, list[str]] = {}
    if spec.family == "categorical":
        coords["category"] = list(spec.outcome_levels[1:])
    for t in spec.terms:
        if t.kind in ("group", "domain_group"):
            coords[t.name] = list(t.levels)
        elif t.kind == "fixed":
            coords[f"{t.name}_effect"] = list(t.levels[1:])
    return coords


def model_data(spec: ModelSpec, cells: CellTable, counts: np.ndarray) -> dict[str, np.ndarray]:
    """The data of the PyMC model on a cell table: per term ``x_<term>``, ``n`` and ``y``.

    These are ``pm.Data`` containers, so a cached compiled model of the same structure is fed
    new cells without recompiling (:func:`compiled_model`).
    """
    _, arrays = encode_for_spec(spec, cells.to_frame())
    out: dict[str, np.ndarray] = {}
    for t in spec.terms:
        x = arrays[t.name]
        out[f"x_{t.name}"] = (np.ascontiguousarray(x, dtype=np.int64)
                              if t.kind in ("group", "domain_group", "fixed")
                              else np.ascontiguousarray(x, dtype=float))
    out["n"] = cells.count.astype(np.int64)
    if spec.family == "categorical":
        out["y"] = np.ascontiguousarray(counts, dtype=np.int64)
    else:
        out["y"] = np.ascontiguousarray(counts[:, 1], dtype=np.int64)
    return out


def build_model(spec: ModelSpec, cells: CellTable, counts: np.ndarray):
    """The PyMC model on the cell table. ``counts`` is (m, K) outcome counts per cell.

    The cell arrays are ``pm.Data`` (see :func:`model_data`); the likelihood is binomial
    (multinomial for ``family="categorical"``) on the cell counts, written as its kernel
    ``sum(y * eta - n * log(1 + exp(eta)))`` (``sum(y * log_softmax(eta))``) in a
    ``pm.Potential``: the same posterior, without the constant coefficients.
    """
    import pymc as pm
    import pytensor.tensor as pt
    from pytensor.tensor.special import log_softmax

    data = model_data(spec, cells, counts)
    cat = spec.family == "categorical"
    lead: tuple[str, ...] = ("category",) if cat else ()
    with pm.Model(coords=_coords(spec)) as model:
        a = pm.Normal("Intercept", 0.0, 2.5, dims=lead or None)
        eta: Any = a[None, :] if cat else a
        # PyMC annotates its variables as Variable / SharedVariable unions that lack
        # indexing and arithmetic; they are TensorVariables: typed Any here
        b: Any
        for t in spec.terms:
            x: Any = pm.Data(f"x_{t.name}", data[f"x_{t.name}"])
            if t.kind in ("group", "domain_group"):
                sd = pm.HalfNormal(f"sd_{t.name}", 1.0, dims=lead or None)
                sdb = sd[:, None] if cat else sd
                dims = (*lead, t.name)
                if t.centered:
                    b = pm.ZeroSumNormal(f"b_{t.name}", sigma=sdb, dims=dims)
                else:
                    z = pm.ZeroSumNormal(f"z_{t.name}", sigma=1.0, dims=dims)
                    b = pm.Deterministic(f"b_{t.name}", sdb * z, dims=dims)
                eta = eta + (b[:, x].T if cat else b[x])
            elif t.kind == "fixed":
                b = pm.Normal(f"b_{t.name}", 0.0, 2.5, dims=(*lead, f"{t.name}_effect"))
                bb: Any = pt.concatenate(
                    [pt.zeros((*([len(spec.outcome_levels) - 1] if cat else []), 1)), b], axis=-1)
                eta = eta + (bb[:, x].T if cat else bb[x])
            else:  # numeric slopes
                b = pm.Normal(f"b_{t.name}", 0.0, 2.5, dims=lead or None)
                eta = eta + (x[:, None] * b[None, :] if cat else x * b)
        n: Any = pm.Data("n", data["n"])
        y: Any = pm.Data("y", data["y"])
        # the likelihood kernel (constants dropped: the binomial / multinomial coefficients
        # and PyMC's parameter checks would be recomputed at every gradient evaluation)
        # (pt.sum is annotated as returning Variable or a list; it is a TensorVariable)
        loglik: Any
        if cat:
            full = pt.concatenate([pt.zeros((eta.shape[0], 1)), eta], axis=1)
            loglik = pt.sum(y * log_softmax(full, axis=1))
        else:
            loglik = pt.sum(y * eta - n * pt.softplus(eta))
        pm.Potential("loglik", loglik)
    return model


#: NUTS target acceptance of a first run (``target_accept=None``) ...
DEFAULT_TARGET_ACCEPT = 0.8
#: ... and of the one retry when that run diverged.
RETRY_TARGET_ACCEPT = 0.95

#: nutpie settings used unless ``Sampler.options`` overrides them. Low-rank mass-matrix
#: adaptation captures the correlation of the intercept with the effects of large levels
#: (unbalanced cells): on 1M simulated personas it raised the smallest bulk ESS of
#: 4 x 1000 draws from ~480 (diagonal) to >5000 at about the same cost per draw
#: (bench/out/mrp.md).
NUTPIE_DEFAULTS: dict[str, Any] = {"adaptation": "low_rank"}

#: Compiled models kept between fits (LRU, at most :data:`CACHE_SIZE`), keyed by
#: :func:`structure_key`: a second fit with the same terms, levels and parametrization is fed
#: its cells through ``pm.Data`` and does not recompile.
_CACHE: OrderedDict[tuple, Any] = OrderedDict()
CACHE_SIZE = 8


def structure_key(spec: ModelSpec, sampler: SamplerBackend) -> tuple:
    """What fixes the compiled model: sampler, family, outcome levels, terms and their levels."""
    return (sampler, spec.family, spec.outcome_levels,
            tuple((t.name, t.kind, t.levels, t.centered) for t in spec.terms))


def clear_cache() -> None:
    """Forget every compiled model (the next fit compiles again)."""
    _CACHE.clear()


def compiled_model(spec: ModelSpec, cells: CellTable, counts: np.ndarray,
                   sampler: SamplerBackend,
                   cache: bool = True) -> tuple[Any, Any, bool]:
    """``(pymc_model, nutpie_compiled_or_None, cache_hit)`` for these cells.

    A cache hit reuses the compiled model and swaps in this fit's cell data (nutpie:
    ``CompiledModel.with_data``; PyMC: ``pm.set_data`` on the cached model).
    """
    import pymc as pm

    key = structure_key(spec, sampler)
    hit = cache and key in _CACHE
    if hit:
        model, compiled = _CACHE[key]
        _CACHE.move_to_end(key)
        data = model_data(spec, cells, counts)
        if compiled is not None:
            compiled = compiled.with_data(**data)
        else:
            with model:
                pm.set_data(data)
        return model, compiled, True
    model = build_model(spec, cells, counts)
    compiled = None
    if sampler == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model)
    if cache:
        _CACHE[key] = (model, compiled)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model, compiled, False


def _cores(chains: int, cores: int | None) -> int:
    """Chains run in parallel on the CPUs this process may use (PyMC's own default halves
    ``os.cpu_count()`` and ran the chains one after another on a 2-CPU machine)."""
    if cores is not None:
        return max(1, int(cores))
    return max(1, min(chains, usable_cpus()))


def _sample(model, compiled, sampler: Sampler, target_accept: float):
    """Sample, and refuse a partial trace: PyMC (and nutpie) catch Ctrl-C and return the
    draws so far, which would pass the gate and give estimates from an interrupted run."""
    return complete_trace(_sample_all(model, compiled, sampler, target_accept), sampler)


def complete_trace(idata: Any, s: Sampler) -> Any:
    """``idata``, or :class:`KeyboardInterrupt` when it has fewer chains or draws than asked
    (sampling was interrupted): an interrupted fit writes nothing (the CLI exits 130).

    >>> from types import SimpleNamespace as NS
    >>> ok = NS(posterior=NS(sizes={"chain": 2, "draw": 10}))
    >>> complete_trace(ok, Sampler(draws=10, chains=2)) is ok
    True
    """
    post = getattr(idata, "posterior", None)
    sizes = getattr(post, "sizes", None)
    if sizes is None:
        return idata
    chains, draws = int(sizes.get("chain", s.chains)), int(sizes.get("draw", s.draws))
    if chains < s.chains or draws < s.draws:
        raise KeyboardInterrupt(f"sampling was interrupted: {chains} chains x {draws} draws of "
                                f"{s.chains} x {s.draws}; no estimates from a partial trace")
    return idata


def _sample_all(model, compiled, sampler: Sampler, target_accept: float):
    import pymc as pm


    s = sampler
    extra = dict(s.options)
    if s.backend == "nutpie":
        return _sample_nutpie(compiled, s, target_accept, {**NUTPIE_DEFAULTS, **extra})
    with model:  # nuts_sampler="pymc": PyMC's own NUTS (else PyMC 6 hands off to nutpie)
        return pm.sample(draws=s.draws, tune=s.tune, chains=s.chains, random_seed=s.seed,
                         nuts_sampler="pymc", progressbar=show(s.progress),
                         target_accept=target_accept, cores=_cores(s.chains, s.cores),
                         compute_convergence_checks=False, **extra)


def _sample_nutpie(compiled, s: Sampler, target_accept: float, extra: dict[str, Any]):
    """nutpie's NUTS with its progress reported to :func:`calib.core.progress.progress_bar`."""
    import nutpie


    what = f"sampling (nutpie, {s.chains} chains x {s.tune} tune + {s.draws} draws)"
    with progress_bar(s.chains * (s.draws + s.tune), what, s.progress) as advance:
        done = [0]

        def report(chain_progress: Any) -> None:  # nutpie calls it every 200 ms
            now = sum(int(c.finished_draws) for c in chain_progress)
            advance(now - done[0])
            done[0] = now

        return nutpie.sample(compiled, draws=s.draws, tune=s.tune, chains=s.chains,
                             seed=0 if s.seed is None else int(s.seed), progress_bar=False,
                             progress_callback=report if show(s.progress) else None,
                             progress_rate=200, target_accept=target_accept,
                             cores=_cores(s.chains, s.cores), **extra)


@dataclass(frozen=True)
class MRPFit:
    """A fitted MRP model on cells.

    Attributes
    ----------
    idata : the ArviZ (1.x) ``DataTree`` with ``posterior`` and ``sample_stats``.
    cells : the sample's :class:`~calib.core.cells.CellTable`; ``sums`` hold the outcome counts
        per cell (``"y=<level>"``).
    spec : the :class:`~calib.mrp.spec.ModelSpec` (terms, levels, domain predictors).
    diagnostics : one row per parameter: ``r_hat, ess_bulk, ess_tail`` and ``divergences``
        in ``options``; see :func:`calib.mrp.diagnostics.check`.
    options : sampler settings, wall time, rows dropped (missing outcome).
    """

    idata: Any
    cells: CellTable
    spec: ModelSpec
    diagnostics: pd.DataFrame
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return self.spec.outcome

    def _facts(self) -> list[tuple[str, Any]]:
        o = self.options
        d = self.diagnostics
        facts: list[tuple[str, Any]] = [
            ("model", f"{self.outcome} ~ {' + '.join(t.name for t in self.spec.terms)} "
                      f"({self.spec.family})"),
            ("cells", self.cells.n_cells)]
        if "chains" in o and "draws" in o:
            facts.append(("sampling", f"{o['chains']} chains x {o['draws']} draws"))
        if "r_hat" in d and len(d):
            facts.append(("max R-hat", f"{float(d['r_hat'].max()):.3f}"))
        if "ess_bulk" in d and len(d):
            facts.append(("min ESS bulk", f"{float(d['ess_bulk'].min()):.0f}"))
        if "divergences" in o:
            facts.append(("divergences", o["divergences"]))
        if "wall_s" in o:
            facts.append(("wall", f"{float(o['wall_s']):.1f} s"))
        return facts

    def __repr__(self) -> str:
        # the dataclass repr would print the posterior and the cell table
        return "<MRPFit " + ", ".join(f"{k} {v}" for k, v in self._facts()) + ">"

    def _repr_html_(self) -> str:
        """Notebook view: the model, sampling and convergence, the worst-mixing parameters."""
        d = self.diagnostics
        tables = []
        if "r_hat" in d and len(d):
            worst = d.sort_values("r_hat", ascending=False).head(8)
            cols = [c for c in ("r_hat", "ess_bulk", "ess_tail") if c in worst]
            tables.append(html_table(
                ["parameter", *cols],
                [[str(i), *(f"{float(r[c]):.3f}" if c == "r_hat" else f"{float(r[c]):.0f}"
                            for c in cols)] for i, r in worst.iterrows()]))
        return html_block("calib MRPFit", self._facts(), *tables)

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of a parameter, chains stacked: shape (S, *dims)."""
        post = self.idata["posterior"]
        if name not in post:
            raise DataError(f"no parameter {name!r} in the posterior; have {list(post.data_vars)}")
        v = post[name].values
        return v.reshape(-1, *v.shape[2:])

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Posterior mean, sd, central interval, R-hat and ESS per parameter (one row each)."""
        return posterior_table(self, level)

    def effects(self, term: str, level: float = 0.95, reference: str | None = None) -> pd.DataFrame:
        """Effects of one term's levels (logit scale) with central intervals.

        With ``reference`` (e.g. ``"meta"`` for ``persona_type``) the effects are differences
        from that level, so each row says how far that level shifts the answers.
        Columns: ``term, level, [category,] mean, sd, ci_low, ci_high, p_positive``.
        """
        t = self.spec.term(term)
        d = self.draws(f"b_{t.name}")
        labels = list(t.levels) if t.kind != "fixed" else list(t.levels)
        if t.kind == "fixed":
            d = np.concatenate([np.zeros((*d.shape[:-1], 1)), d], axis=-1)
        elif t.kind not in ("group", "domain_group"):
            labels = [t.name]
            d = d[..., None]
        if reference is not None:
            if reference not in labels:
                raise DataError(f"reference {reference!r} is not a level of {term!r}: {labels}")
            d = d - d[..., [labels.index(reference)]]
        a = (1 - level) / 2
        cats = list(self.spec.outcome_levels[1:]) if self.spec.family == "categorical" else [None]
        rows = []
        for ci, c in enumerate(cats):
            dc = d[:, ci, :] if c is not None else d
            q = np.quantile(dc, [a, 1 - a], axis=0)
            for j, lv in enumerate(labels):
                row: dict[str, Any] = {"term": term, "level": lv}
                if c is not None:
                    row["category"] = c
                row.update(mean=float(dc[:, j].mean()), sd=float(dc[:, j].std(ddof=1)),
                           ci_low=float(q[0, j]), ci_high=float(q[1, j]),
                           p_positive=float((dc[:, j] > 0).mean()))
                rows.append(row)
        return pd.DataFrame(rows)

    def poststratify(self, frame: pd.DataFrame, **options: Any) -> MRPEstimate:
        """Shortcut for :func:`calib.mrp.poststratify` (``fit.poststratify(frame)``)."""
        return poststratify(self, frame, **options)


#: The sampler of a :func:`fit` without ``sampler=``.
DEFAULT_SAMPLER = Sampler()


def fit(
    sample: Any,
    outcome: str,
    *,
    group_effects: Sequence[str] = (),
    fixed_effects: Sequence[str] = (),
    domain_predictors: DomainPredictors | None = None,
    family: Literal["binomial", "categorical"] = "binomial",
    success: str | None = None,
    missing: Literal["error", "drop", "level"] = "error",
    sampler: Sampler | None = None,
    gate: Gate | Literal["raise", "warn"] = "raise",
) -> MRPFit:
    """Fit a multilevel (MRP) model of ``outcome`` on the sample's cells.

    Parameters
    ----------
    sample : :class:`calib.Sample` or DataFrame of rows (weights are ignored).
    outcome : the outcome column: 0/1 (or ``success=`` level) for ``"binomial"``, any levels
        for ``"categorical"`` (first level in sorted/categorical order = reference).
    group_effects : variables with sum-to-zero varying intercepts (e.g. ``state``, ``age6``,
        persona metadata such as ``persona_type`` or ``model``), and interactions ``"a:b"``:
        a varying intercept over the joint levels (its terms follow the single ones).
    fixed_effects : categorical fixed effects (treatment coding) or numeric cell-level slopes.
    domain_predictors : one row per level of a grouping variable, e.g. ``state, repvote,
        region``: numeric columns -> a slope on the standardized value; categorical -> a
        varying intercept over its levels. A frame: its key is the one group effect that is
        a column; ``{key: frame}`` names the key.
    family : ``"binomial"`` or ``"categorical"`` (multinomial counts, softmax).
    success : for binomial, the outcome level counted as 1.
    missing : rows with a missing outcome or model variable: ``"error"`` or ``"drop"``
        (the count is in ``fit.options["dropped"]``); ``"level"`` keeps missing model
        variables as a level ``"Missing"`` of their own (a missing outcome is still an error:
        it is not a level of the outcome).
    sampler : the :class:`~calib.mrp.sampler.Sampler` settings (backend, draws, tune, chains,
        seed, target acceptance and its retry, cores, backend options, parametrization,
        compiled-model cache, progress bar); default ``Sampler()``.
    gate : ``"raise"`` (default) raises :class:`~calib.core.errors.DiagnosticsError` when the fit
        fails the diagnostics gate (R-hat <= 1.01, bulk and tail ESS >= 400, no divergences);
        ``"warn"`` warns; a :class:`~calib.mrp.diagnostics.Gate` sets the limits too.

    Returns
    -------
    MRPFit
        ``options`` record the sampler settings (``sampler`` = the backend), ``target_accept``
        (the run kept) and ``retried``, ``wall_s``, ``compile_s``, ``sample_s``, ``cached``,
        ``cores``, ``dropped``, ``centered`` per term, ``rows`` and ``divergences``.

    Notes
    -----
    On 1M simulated personas (5,645 cells) target acceptance 0.8 took 7 leapfrog steps per
    draw and 0.9 took 12.8, with the same bulk ESS and no divergences (docs/performance.md);
    small data with few levels per term (funnels) may need the retry at 0.95.
    """

    s = DEFAULT_SAMPLER if sampler is None else sampler
    g = Gate.of(gate)
    if family not in ("binomial", "categorical"):
        raise DataError(f"family={family!r}: use 'binomial' or 'categorical'")
    if missing not in ("error", "drop", "level"):
        raise DataError(f"missing={missing!r}: use 'error', 'drop' or 'level'")
    df, ind, levels, dropped = _outcome_rows(_frame_of(sample), outcome, family, success,
                                             missing)
    singles = [g for g in group_effects if ":" not in str(g)]
    interactions = [g for g in group_effects if ":" in str(g)]
    variables = _model_variables(singles, fixed_effects, interactions)
    enc = encode(df, variables, missing=missing)
    dropped.update(enc.dropped)
    sums = {f"y={lv}": row[enc.keep] for lv, row in zip(levels, ind, strict=True)}
    cells, _ = collapse(enc, sums=sums)
    counts = np.column_stack([cells.sums[f"y={lv}"] for lv in levels])
    spec = build_spec(cells, outcome, family, levels, singles, list(fixed_effects),
                      interactions, domain_predictors, centered=s.centered,
                      center_min=s.center_min)
    idata, opts = _run(spec, cells, counts, s)
    opts["dropped"] = dropped
    opts["centered"] = {t.name: t.centered for t in spec.terms if t.kind == "group"}
    opts["rows"] = int(cells.count.sum())
    diag, divergences = check(idata, gate=g.action, thresholds=g.thresholds)
    opts["divergences"] = divergences
    return MRPFit(idata, cells, spec, diag, opts)


def _outcome_rows(df: pd.DataFrame, outcome: str, family: Family, success: str | None,
                  missing: str) -> tuple[pd.DataFrame, np.ndarray, tuple[str, ...],
                                         dict[str, int]]:
    """The rows with an outcome, its (K, n) indicators, levels, and the rows dropped."""
    if outcome not in df.columns:
        raise DataError(f"outcome {outcome!r} is not a column ({list(df.columns)})")
    ind, levels, miss = encode_outcome(df[outcome], outcome, family, success)
    dropped: dict[str, int] = {}
    if miss.any():
        if missing != "drop":
            raise DataError(f"outcome {outcome!r} is missing in {int(miss.sum())} rows; pass "
                            "missing='drop' to drop them (the count is reported; 'level' "
                            "applies to the model variables, not the outcome)")
        dropped[outcome] = int(miss.sum())
        df = df.loc[~miss]
        ind = ind[:, ~miss]
    seen = [lv for lv, k in zip(levels, ind.sum(axis=1), strict=True) if k > 0]
    if len(seen) == 1 and ind.shape[1] > 0:
        # the model cannot learn a share from one value (its R-hat is undefined, "nan")
        raise DataError(f"outcome {outcome!r} takes the single value {seen[0]!r} in all "
                        f"{ind.shape[1]} rows: its share is {seen[0]!r} everywhere and a "
                        "model has nothing to fit; check the outcome column")
    return df, ind, levels, dropped


def _model_variables(group_effects: Sequence[str], fixed_effects: Sequence[str],
                     interactions: Sequence[str]) -> list[str]:
    """The cell variables, each once, in model order (interaction parts last)."""
    names = [*group_effects, *fixed_effects]
    for it in interactions:
        names.extend(str(it).split(":"))
    return list(dict.fromkeys(names))


def _run(spec: ModelSpec, cells: CellTable, counts: np.ndarray,
         s: Sampler) -> tuple[Any, dict[str, Any]]:
    """Compile (or reuse) the model and sample it, retrying once at a higher target
    acceptance when the default run diverged; the posterior and the run's options."""

    t0 = time.perf_counter()
    model, compiled, hit = compiled_model(spec, cells, counts, s.backend, s.cache)
    t1 = time.perf_counter()
    ta = DEFAULT_TARGET_ACCEPT if s.target_accept is None else float(s.target_accept)
    idata = _sample(model, compiled, s, ta)
    retried = False
    if s.target_accept is None and n_divergent(idata) > 0:
        ta, retried = RETRY_TARGET_ACCEPT, True
        idata = _sample(model, compiled, s, ta)
    wall = time.perf_counter() - t0
    return idata, {"draws": s.draws, "tune": s.tune, "chains": s.chains,
                   "sampler": s.backend, "seed": s.seed, "target_accept": ta,
                   "retried": retried, "wall_s": wall, "compile_s": t1 - t0,
                   "sample_s": wall - (t1 - t0), "cached": hit,
                   "cores": _cores(s.chains, s.cores)}


__all__ = ["fit", "MRPFit", "Sampler", "Gate", "DEFAULT_SAMPLER", "build_model", "model_data", "compiled_model", "structure_key",
           "clear_cache", "CENTER_MIN", "NUTPIE_DEFAULTS", "DEFAULT_TARGET_ACCEPT",
           "RETRY_TARGET_ACCEPT", "Term"]
