"""Run many methods on one persona set against a benchmark: one table.

Each method is a small runner ``(StudyInput) -> DataFrame`` of domain estimates
(``domain, estimate, se, ci_low, ci_high, ess``), registered by name in :data:`METHODS`, so a
study file or the CLI can name them. :func:`compare` runs the chosen methods, joins the
benchmark (known truth from :mod:`calib.studies.election_study`, or certified results), and returns
per-domain rows and a per-method summary: RMSE, mean bias, mean absolute error, coverage of the
intervals, winners called (for a two-party share by state), national estimate, mean ESS and run
time. A method that fails (a calibration that cannot be met, an MRP fit that fails its gate)
is reported in the summary's ``status`` column rather than hidden.

:func:`compare_repeated` repeats a study over seeds and reports coverage with its Monte Carlo
standard error.

Examples
--------
>>> from calib.studies.election_study import election_study
>>> st = election_study(2024, per_state=150, human_n=0, seed=3)
>>> meta = st.personas[st.personas["persona_type"] == "meta"]
>>> bench = st.truth_state.set_index("state")["dem_two_party_share"]
>>> cmp = compare(meta, "vote_dem", benchmark=bench, frame=st.frame,
...               methods=("raw", "rake"), seed=1)
>>> list(cmp.summary["method"])
['raw', 'rake']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
import pandas as pd

from calib import mrp
from calib.core.errors import CalibError, DataError, MethodsFailedError
from calib.core.progress import progress_bar
from calib.core.sample import Sample
from calib.core.targets import Margin, Targets
from calib.data.output import Staged, check_targets, frame_to, table_kind
from calib.hybrid import joint_mrp, partisan, ppi_mean, recalled_vote_targets, small_area
from calib.hybrid.partisan import VOTE_VARIABLE
from calib.weighting.poststratify import collapse_levels

DEFAULT_VARIABLES: tuple[str, ...] = ("age6", "sex", "race4", "educ5")


@dataclass(frozen=True)
class StudyInput:
    """What every method runner sees."""

    personas: pd.DataFrame
    outcome: str
    by: str
    frame: pd.DataFrame | None
    count: str
    variables: tuple[str, ...]
    targets: Targets | None
    human: pd.DataFrame | None
    human_outcome: str | None
    llm_outcome: str | None
    human_weight: str | None
    level: float
    seed: int | None
    options: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    def opts(self, method: str) -> dict:
        return dict(self.options.get(method, {}))


def frame_targets(
    frame: pd.DataFrame, variables: Sequence[str], by: str | None = "state", count: str = "n"
) -> Targets:
    """Joint margins ``variable:by`` (totals) from a poststratification frame."""
    margins = []
    for v in variables:
        keys = [v] if by is None else [v, by]
        g = frame.groupby(keys, observed=True)[count].sum()
        g = g[g > 0]
        levels = tuple(tuple(str(x) for x in (k if isinstance(k, tuple) else (k,))) for k in g.index)
        margins.append(Margin(tuple(keys), levels, g.to_numpy(dtype=float), "total"))
    return Targets(tuple(margins), float(frame[count].sum()))


def _weighted_by(s, inp: StudyInput) -> pd.DataFrame:
    est = s.estimate(inp.outcome, by=inp.by, level=inp.level, **inp.opts("estimate"))
    est = est[est["by"] == inp.by] if "by" in est.columns else est
    return est[["domain", "estimate", "se", "ci_low", "ci_high", "ess", "n"]]


def _sample(inp: StudyInput):
    return Sample(inp.personas)


def _targets(inp: StudyInput, variables: Sequence[str] | None = None) -> Targets:
    if inp.targets is not None:
        return inp.targets
    if inp.frame is None:
        raise DataError("weighting methods need targets= or a frame= to build them from")
    return frame_targets(inp.frame, inp.variables if variables is None else variables, inp.by,
                         inp.count)


def run_raw(inp: StudyInput) -> pd.DataFrame:
    """Unweighted persona means (what a naive simulation reports)."""
    return _weighted_by(_sample(inp), inp)


def run_rake(inp: StudyInput) -> pd.DataFrame:
    """Rake to ``variable:state`` margins; calibration-aware linearized SEs."""
    return _weighted_by(_sample(inp).rake(_targets(inp), **inp.opts("rake")), inp)


def run_poststratify(inp: StudyInput) -> pd.DataFrame:
    """Poststratify to state x (first variable) joint cells."""
    o = inp.opts("poststratify")
    var = o.pop("variable", inp.variables[0])
    return _weighted_by(_sample(inp).poststratify(_targets(inp, [var]), **o), inp)


def _national_targets(inp: StudyInput) -> Targets:
    """One-way national margins of the variables plus the ``by`` margin (a compact design)."""
    if inp.frame is None:
        raise DataError("margins='national' needs a frame= to build the targets from")
    return frame_targets(inp.frame, [*inp.variables, inp.by], None, inp.count)


def run_calibrate_logit(inp: StudyInput) -> pd.DataFrame:
    """Bounded logit calibration (default bounds 0.01-100 on g: personas come in equal numbers
    per state, so g must span the states' population ratios).

    Option ``margins="national"`` calibrates to the variables' national margins plus the state
    margin (67 constraints instead of 850 by-state ones: Newton's dense p x p solves stay
    cheap); the default uses the same by-state margins as rake.
    """
    o = {"distance": "logit", "bounds": (0.01, 100.0), **inp.opts("calibrate-logit")}
    margins = o.pop("margins", "by")
    t = _national_targets(inp) if margins == "national" else _targets(inp)
    return _weighted_by(_sample(inp).calibrate(t, **o), inp)


def run_optimal(inp: StudyInput) -> pd.DataFrame:
    """cvxpy KL calibration with bounds (default 0.01-100 on g)."""
    o = {"divergence": "kl", "bounds": (0.01, 100.0), **inp.opts("optimal")}
    return _weighted_by(_sample(inp).optimal(_targets(inp), **o), inp)


def run_propensity(inp: StudyInput) -> pd.DataFrame:
    """Importance weights against the human sample (its design weights as the reference)."""
    if inp.human is None:
        raise DataError("propensity needs a human/reference sample (human=...)")
    o = {"variables": list(inp.variables), **inp.opts("propensity")}
    if inp.human_weight:
        o.setdefault("reference_weight", inp.human_weight)
    return _weighted_by(_sample(inp).propensity(inp.human, **o), inp)


def run_mrp(inp: StudyInput) -> pd.DataFrame:
    """Binomial MRP on cells (sum-to-zero effects), poststratified on the frame."""
    if inp.frame is None:
        raise DataError("mrp needs a poststratification frame (frame=...)")
    o = {"draws": 500, "tune": 500, "chains": 4, "sampler": "nutpie", "seed": inp.seed,
         **inp.opts("mrp")}
    groups = o.pop("group_effects", [inp.by, *inp.variables])
    fit = mrp.fit(inp.personas, inp.outcome, group_effects=groups, **mrp.fit_options(o))
    est = mrp.poststratify(fit, inp.frame, by=inp.by, count=inp.count, level=inp.level)
    return _model_rows(est.table, fit)


def _model_rows(table: pd.DataFrame, fit: object) -> pd.DataFrame:
    """The domain rows of a model-based table (no ``Total``; ``ess`` not defined), with the
    fit kept in ``attrs`` for the Comparison (diagnostics for reports)."""
    t = table[table["domain"] != "Total"].copy()
    t["ess"] = np.nan
    out = t[["domain", "estimate", "se", "ci_low", "ci_high", "ess", "n"]].copy()
    if fit is not None:
        out.attrs["fit"] = fit
    return out


def run_ppi(inp: StudyInput) -> pd.DataFrame:
    """Rectified persona estimates per domain: PPI with lambda = 1, bias from a coarser stratum.

    A human sample of ANES size has too few respondents per state for a PPI per state, so the
    rectifier (mean human answer minus mean LLM answer for the same humans) is estimated within
    each ``rectifier_by`` stratum (default ``region``) and added to the raked persona mean of
    every domain in it: theta_s = f_s + (Y - f)_region(s). Unbiased when the LLM's bias is the
    same across the domains of a stratum (the assumption; see docs/methods/hybrid.md); the
    se adds the persona arm's and the rectifier's variances (PPI++ formulas, lambda fixed at 1).
    """
    if inp.human is None or inp.human_outcome is None:
        raise DataError("ppi needs human=... with human_outcome= (the human's real answer)")
    o = inp.opts("ppi")
    strat = o.pop("rectifier_by", "region")
    llm = inp.llm_outcome or inp.outcome
    for col, what in ((inp.human_outcome, "human_outcome"), (llm, "llm_outcome")):
        if col not in inp.human.columns:
            raise DataError(f"{what} {col!r} is not a column of the human sample")
    human = inp.human.copy()
    human["__human_answer"] = human[inp.human_outcome]
    human[inp.outcome] = human[llm]
    s = _sample(inp).rake(_targets(inp))
    frame = s.frame
    strat_of = frame.groupby(inp.by, observed=True)[strat].first().astype(str)
    rows = []
    for dom, st in strat_of.items():
        pm = (frame[inp.by].astype(str) == str(dom)).to_numpy()
        hm = (human[strat].astype(str) == st).to_numpy()

        sub = Sample(frame.loc[pm], weight=s.weight_array[pm])
        r = ppi_mean(sub, human.loc[hm], inp.outcome, "__human_answer", lam=1.0,
                     human_weight=inp.human_weight, level=inp.level, **o)
        r = r.iloc[[0]].assign(domain=str(dom))
        rows.append(r)
    out = pd.concat(rows, ignore_index=True)
    return out[["domain", "estimate", "se", "ci_low", "ci_high", "ess", "n"]]


def _human_with_llm(inp: StudyInput, method: str) -> pd.DataFrame:
    """The human rows with their real answer in ``__human_answer`` and the LLM's answer for
    them in the outcome column (the pairing the hybrid estimators expect)."""
    if inp.human is None or inp.human_outcome is None:
        raise DataError(f"{method} needs human=... with human_outcome= (the human's real answer)")
    llm = inp.llm_outcome or inp.outcome
    for col, what in ((inp.human_outcome, "human_outcome"), (llm, "llm_outcome")):
        if col not in inp.human.columns:
            raise DataError(f"{what} {col!r} is not a column of the human sample")
    human = inp.human.copy()
    human["__human_answer"] = human[inp.human_outcome]
    human[inp.outcome] = human[llm]
    return human


def run_ppi_direct(inp: StudyInput) -> pd.DataFrame:
    """Per-domain PPI++ with each domain's own humans (the raked personas of the domain; the
    small-n corrections of :mod:`calib.hybrid.ppi` below its ``SMALL_N`` humans). Domains
    with fewer than 2 humans get no row (a direct estimate needs 2)."""
    human = _human_with_llm(inp, "ppi-direct")
    s = _sample(inp).rake(_targets(inp))
    frame = s.frame
    pcol = frame[inp.by].astype(str).to_numpy()
    hcol = human[inp.by].astype(str).to_numpy()
    rows = []
    for dom in pd.unique(pcol):
        hm = hcol == dom
        if hm.sum() < 2:
            continue
        pm = pcol == dom
        r = ppi_mean(Sample(frame.loc[pm], weight=s.weight_array[pm]), human.loc[hm],
                     inp.outcome, "__human_answer", human_weight=inp.human_weight,
                     level=inp.level, **inp.opts("ppi-direct"))
        rows.append(r.iloc[[0]].assign(domain=str(dom)))
    if not rows:
        raise DataError(f"ppi-direct: no {inp.by} has 2 or more humans")
    out = pd.concat(rows, ignore_index=True)
    return out[["domain", "estimate", "se", "ci_low", "ci_high", "ess", "n", "n_human"]]


def run_small_area(inp: StudyInput) -> pd.DataFrame:
    """Small-area hybrid (:func:`calib.hybrid.small_area`): the raked personas' domain means,
    each domain's own rectifier (its humans, lambda = 1) shrunk toward a model of the
    rectifier across domains (logit scale; fixed effects of option ``groups``, default
    ``("region",)`` when the personas have it; option ``predictors``). Every domain of the
    personas gets a row, with or without humans."""
    human = _human_with_llm(inp, "small-area")
    o = inp.opts("small-area")
    default = ("region",) if "region" in inp.personas.columns else ()
    groups = tuple(o.pop("groups", default))
    s = _sample(inp).rake(_targets(inp))
    out = small_area(s, human, inp.outcome, "__human_answer", inp.by, groups=groups,
                     human_weight=inp.human_weight, level=inp.level, **o)
    return out[["domain", "estimate", "se", "ci_low", "ci_high", "ess", "n", "n_human",
                "estimator", "weight_direct"]]


def run_partisan(inp: StudyInput) -> pd.DataFrame:
    """Partisan calibration (:func:`calib.hybrid.partisan`): rake the personas to the
    demographic ``variable:state`` margins and to the recalled previous vote by state, whose
    targets are the certified results (:func:`calib.hybrid.recalled_vote_targets`; option
    ``recall_year``, default 2020). Fixes the partisan composition of the persona set; cannot
    fix an LLM that answers differently from people with the same recalled vote."""
    o = dict(inp.opts("partisan"))
    year = int(o.pop("recall_year", 2020))
    var = VOTE_VARIABLE.get(year)
    if var is None or var not in inp.personas.columns:
        raise DataError(f"partisan needs the personas' recalled {year} vote in a column "
                        f"{var!r} (levels of calib.data.variables); ask the LLM for it")

    full = recalled_vote_targets(year, by=inp.by).margins[0]
    # minor-candidate voters are ~1.5%: per state they join the nonvoters, so a state without
    # a persona recalling a minor candidate can still be calibrated
    merged_rows, merged, _ = collapse_levels(inp.personas, full, {var: {"Other": "Did not vote"}})
    personas = inp.personas.assign(**{var: merged_rows[var]})
    return _weighted_by(partisan(_sample(replace(inp, personas=personas)), _targets(inp),
                                 Targets((merged,)), **o), inp)


def run_joint_mrp(inp: StudyInput) -> pd.DataFrame:
    """Joint persona-human MRP (:func:`calib.hybrid.joint_mrp`): one model of the LLM's and the
    humans' answers with one persona-bias term (``bias_by=None``; a per-group term needs that
    group's main effect, ``fixed=[group]``, else it is confounded with the states), poststratified
    over the frame with the bias switched off."""
    from calib.hybrid.joint_mrp import JOINT_SAMPLER
    from calib.mrp import fit_options

    if inp.frame is None:
        raise DataError("joint-mrp needs a poststratification frame (frame=...)")
    if inp.human is None or inp.human_outcome is None:
        raise DataError("joint-mrp needs human=... with human_outcome= (the human's real answer)")
    o = {"draws": 500, "tune": 500, "chains": 4, "bias_by": None, "seed": inp.seed,
         **inp.opts("joint-mrp")}
    cells = list(o.pop("cells", [inp.by, *inp.variables]))
    t = joint_mrp(inp.personas, inp.human, inp.outcome, inp.human_outcome, inp.frame,
                  by=inp.by, count=inp.count, level=inp.level, cells=cells,
                  **fit_options(o, JOINT_SAMPLER))
    return _model_rows(t, t.attrs.get("fit"))


#: name -> runner; extend with :func:`register`.
METHODS: dict[str, Callable[[StudyInput], pd.DataFrame]] = {
    "raw": run_raw,
    "poststratify": run_poststratify,
    "rake": run_rake,
    "calibrate-logit": run_calibrate_logit,
    "optimal": run_optimal,
    "propensity": run_propensity,
    "mrp": run_mrp,
    "ppi": run_ppi,
    "ppi-direct": run_ppi_direct,
    "small-area": run_small_area,
    "joint-mrp": run_joint_mrp,
    "partisan": run_partisan,
}


def register(name: str, runner: Callable[[StudyInput], pd.DataFrame]) -> None:
    """Add a method runner to the comparison harness."""
    METHODS[name] = runner


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`compare`: per-domain rows and a per-method summary."""

    table: pd.DataFrame
    summary: pd.DataFrame
    level: float
    fits: Mapping[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        cols = ["method", "rmse", "bias", "mae", "coverage", "winners_correct", "national",
                "national_truth", "ess", "seconds", "status"]  # fmt: skip
        return self.summary[[c for c in cols if c in self.summary]].to_string(
            index=False, float_format=lambda x: f"{x:.4f}"
        )

    def require_estimates(self) -> None:
        """Raise :class:`~calib.core.errors.MethodsFailedError` (exit 3) when every method
        failed, naming each method's reason."""
        if not self.table.empty:
            return
        why = "; ".join(f"{r['method']}: {r.get('status', '')}"
                        for r in self.summary.to_dict("records")) or "no methods"
        raise MethodsFailedError(f"every method failed, nothing was estimated ({why}); fix "
                                 "the inputs or choose other methods")

    @staticmethod
    def paths(path: str | Path) -> tuple[Path, Path]:
        """The files :meth:`write` writes: ``path`` and ``<stem>_summary<suffix>`` beside it.

        >>> [q.name for q in Comparison.paths("c.csv")]
        ['c.csv', 'c_summary.csv']
        """
        p = Path(path)
        return p, p.with_name(p.stem + "_summary" + p.suffix)

    def write(self, path: str, *, overwrite: bool = False) -> None:
        """Write the per-domain table (CSV or Parquet by suffix); the summary goes beside it as
        ``*_summary.<suffix>``. Both are published together (:class:`calib.data.output.Staged`)."""
        p, s = self.paths(path)
        check_targets([(p, "output"), (s, "summary")], overwrite, kind="table")
        with Staged(overwrite=overwrite) as st:
            for frame, q in ((self.table, p), (self.summary, s)):
                frame_to(frame, st.path(q), table_kind(q))


class StudyOptions(TypedDict, total=False):
    """The keyword options of :func:`compare` that describe the study's inputs.

    With the persona set, outcome and ``by`` they make the :class:`StudyInput` every method
    runner sees.

    Keys
    ----
    frame : poststratification frame (cell counts in ``count``) for targets and MRP.
    count : the frame's count column (default ``"n"``).
    variables : demographic variables for the targets (joint with ``by``) and MRP effects
        (default :data:`DEFAULT_VARIABLES`).
    targets : explicit targets instead of the frame's ``variable:by`` margins.
    human, human_outcome, llm_outcome, human_weight : the human benchmark sample for the
        hybrid / propensity methods (``human_weight`` default ``"weight"``).
    level : confidence level (default 0.95).
    seed : random seed.
    options : per-method keyword options, e.g. ``{"mrp": {"draws": 1000}}``.
    """

    frame: pd.DataFrame | None
    count: str
    variables: Sequence[str]
    targets: Targets | None
    human: pd.DataFrame | None
    human_outcome: str | None
    llm_outcome: str | None
    human_weight: str | None
    level: float
    seed: int | None
    options: Mapping[str, Mapping[str, object]] | None


def _study_input(personas: pd.DataFrame, outcome: str, by: str, study: StudyOptions) -> StudyInput:
    """The :class:`StudyInput` of :func:`compare`'s options, with their defaults."""
    unknown = sorted(set(study) - StudyOptions.__optional_keys__)
    if unknown:
        raise TypeError(
            f"compare() got unknown options {unknown}; the study options are "
            f"{sorted(StudyOptions.__optional_keys__)}"
        )
    return StudyInput(
        personas, outcome, by, study.get("frame"), study.get("count", "n"),
        tuple(study.get("variables", DEFAULT_VARIABLES)), study.get("targets"),
        study.get("human"), study.get("human_outcome"), study.get("llm_outcome"),
        study.get("human_weight", "weight"), study.get("level", 0.95), study.get("seed"),
        dict(study.get("options") or {}),
    )  # fmt: skip


def compare(
    personas: pd.DataFrame,
    outcome: str,
    *,
    benchmark: pd.Series | Mapping[str, float],
    methods: Sequence[str] = ("raw", "poststratify", "rake", "calibrate-logit", "optimal"),
    by: str = "state",
    winner_threshold: float | None = 0.5,
    progress: bool | None = False,
    **study: Unpack[StudyOptions],
) -> Comparison:
    """Run ``methods`` on one persona set and score them against ``benchmark``.

    Parameters
    ----------
    personas : persona rows with the cell variables, ``by`` and ``outcome``.
    outcome : the outcome column (a 0/1 answer: estimates are shares).
    benchmark : truth per domain (e.g. certified Democratic two-party share by state).
    methods : names in :data:`METHODS`.
    frame : poststratification frame (cell counts in ``count``) for targets and MRP.
    variables : demographic variables for the targets (joint with ``by``) and MRP effects.
    targets : explicit targets instead of the frame's ``variable:by`` margins.
    human, human_outcome, llm_outcome, human_weight : the human benchmark sample for the
        hybrid / propensity methods.
    options : per-method keyword options, e.g. ``{"mrp": {"draws": 1000}}`` (MRP: the
        :class:`calib.mrp.Sampler` settings by name, see :func:`calib.mrp.fit_options`).
    winner_threshold : a domain is "won" when its share exceeds this (None: no winners column).
    progress : a progress bar over the methods on stderr (None: when stderr is a terminal).
    **study : :class:`StudyOptions` -- ``frame``, ``count``, ``variables``, ``targets``,
        ``human``, ``human_outcome``, ``llm_outcome``, ``human_weight``, ``level``, ``seed``,
        ``options`` (an unknown name raises TypeError).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise DataError(f"unknown methods {unknown}; choose from {list(METHODS)}")
    bench = pd.Series(benchmark, dtype=float)
    bench.index = bench.index.astype(str)
    inp = _study_input(personas, outcome, by, study)
    frame, count = inp.frame, inp.count
    weights = None
    if frame is not None:
        weights = frame.groupby(by, observed=True)[count].sum()
        weights.index = weights.index.astype(str)
    rows, summ, fits = [], [], {}

    with progress_bar(len(methods), "methods", progress) as advance:
        for m in methods:
            _run_one(m, inp, bench, weights, winner_threshold, rows, summ, fits)
            advance()
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return Comparison(table, pd.DataFrame(summ), inp.level, fits)


def _run_one(m: str, inp: StudyInput, bench: pd.Series, weights: pd.Series | None,
             winner_threshold: float | None, rows: list, summ: list, fits: dict) -> None:
    """Run method ``m`` and append its per-domain rows and its summary line."""
    t0 = time.perf_counter()
    try:
        est = METHODS[m](inp).copy()
        status = "ok"
    except (CalibError, ImportError, AttributeError) as e:
        summ.append({"method": m, "status": f"failed: {e}", "seconds": time.perf_counter() - t0})
        return
    secs = time.perf_counter() - t0
    if "fit" in est.attrs:
        fits[m] = est.attrs.pop("fit")
    est["domain"] = est["domain"].astype(str)
    est = est[est["domain"].isin(bench.index)]
    est["truth"] = bench.reindex(est["domain"]).to_numpy()
    est["error"] = est["estimate"] - est["truth"]
    est["covered"] = (est["ci_low"] <= est["truth"]) & (est["truth"] <= est["ci_high"])
    est.insert(0, "method", m)
    rows.append(est)
    s = {
        "method": m,
        "domains": len(est),
        "rmse": float(np.sqrt(np.mean(est["error"] ** 2))),
        "bias": float(est["error"].mean()),
        "mae": float(est["error"].abs().mean()),
        "coverage": float(est["covered"].mean()),
        "ess": float(est["ess"].mean()) if est["ess"].notna().any() else np.nan,
        "seconds": secs,
        "status": status,
    }
    if winner_threshold is not None:
        s["winners_correct"] = int(
            ((est["estimate"] > winner_threshold) == (est["truth"] > winner_threshold)).sum()
        )
    if weights is not None:
        w = weights.reindex(est["domain"]).to_numpy(dtype=float)
        s["national"] = float(np.average(est["estimate"], weights=w))
        s["national_truth"] = float(np.average(est["truth"], weights=w))
    summ.append(s)


def compare_repeated(
    make: Callable[[int], Mapping[str, object]],
    reps: int,
    *,
    methods: Sequence[str],
    seed: int = 0,
    progress: bool | None = False,
    **kwargs: object,
) -> pd.DataFrame:
    """Repeat :func:`compare` over ``reps`` simulated data sets.

    ``make(seed)`` returns the keyword arguments of :func:`compare` that change with the seed
    (``personas``, ``benchmark``, ...). Returns per method: mean RMSE, mean bias, coverage (the
    share of all domain-intervals that cover) and its Monte Carlo standard error with the
    repetitions as clusters (``coverage_mcse``): intervals of one repetition share its human
    sample and rectifier, so they are not independent. With K_r intervals and C_r covering in
    repetition r (R repetitions, c = sum C / sum K) it is the ratio-estimator standard error
    ``sqrt(sum_r (C_r - c K_r)^2 / (R (R - 1))) / mean(K_r)``: with equal K_r, the standard
    error of the mean of the per-repetition coverage rates (NaN with one repetition).
    ``coverage_mcse_iid`` is the binomial ``sqrt(c (1 - c) / K)``, which treats all intervals
    as independent (too small when they are correlated).
    ``progress``: a bar over the repetitions on stderr (None: when stderr is a terminal).
    """
    out: list[pd.DataFrame] = []
    with progress_bar(reps, "repetitions", progress) as advance:
        for r in range(reps):
            args = {**kwargs, **make(seed + r)}
            c = compare(methods=methods, seed=seed + r, **args)  # type: ignore[arg-type]
            if not c.table.empty:
                out.append(c.table.assign(rep=r))
            advance()
    if not out:
        raise DataError("no method produced estimates in any repetition")
    t = pd.concat(out, ignore_index=True)
    g = t.groupby("method", sort=False)
    res = pd.DataFrame(
        {
            "reps": g["rep"].nunique(),
            "intervals": g.size(),
            "rmse": g["error"].apply(lambda e: float(np.sqrt(np.mean(e**2)))),
            "bias": g["error"].mean(),
            "coverage": g["covered"].mean(),
        }
    )
    res["coverage_mcse"] = [clustered_mcse(t.loc[t["method"] == m, "covered"].to_numpy(),
                                           t.loc[t["method"] == m, "rep"].to_numpy())
                            for m in res.index]
    res["coverage_mcse_iid"] = np.sqrt(res["coverage"] * (1 - res["coverage"]) / res["intervals"])
    return res.reset_index()


def clustered_mcse(covered: np.ndarray, rep: np.ndarray) -> float:
    """Monte Carlo SE of a coverage rate with repetitions as clusters (ratio estimator).

    >>> clustered_mcse(np.array([1, 1, 1, 0, 1, 1]), np.array([0, 0, 0, 1, 1, 1]))
    0.16666666666666666
    """
    _, code = np.unique(rep, return_inverse=True)
    k = np.bincount(code).astype(float)
    c = np.bincount(code, np.asarray(covered, dtype=float))
    r = k.size
    if r < 2:
        return float("nan")
    rate = c.sum() / k.sum()
    return float(np.sqrt(np.sum((c - rate * k) ** 2) / (r * (r - 1))) / k.mean())


__all__ = [
    "METHODS",
    "StudyInput",
    "StudyOptions",
    "Comparison",
    "compare",
    "compare_repeated",
    "clustered_mcse",
    "frame_targets",
    "register",
]
