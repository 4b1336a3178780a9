"""The options that take one of a fixed set of strings, as ``Literal`` types, defined once.

Each alias comes with the tuple of its values (``get_args`` of the alias) for validation and
messages; a check ``if value not in MISSING_RULES: raise ...`` also narrows a plain ``str`` to
the alias for the type checker. The names say what the option is, not where it is used.

Examples
--------
>>> MISSING_RULES
('error', 'drop', 'level')
>>> "jackknife" in VARIANCES
True
"""

from __future__ import annotations

from typing import Literal, get_args

#: Rows with a missing value in a weighting variable: refuse, drop the rows, or keep them as
#: a ``"Missing"`` level (:func:`calib.core.cells.encode`).
MissingRule = Literal["error", "drop", "level"]
MISSING_RULES: tuple[MissingRule, ...] = get_args(MissingRule)

#: What a margin's values are: population totals or shares within the margin.
Scale = Literal["total", "share"]
SCALES: tuple[Scale, ...] = get_args(Scale)

#: Calibration distances (:mod:`calib.weighting.distance`).
DistanceName = Literal["linear", "truncated", "raking", "logit"]
DISTANCE_NAMES: tuple[DistanceName, ...] = get_args(DistanceName)

#: Divergences of optimal weighting (:func:`calib.weighting.optimal.optimal`).
Divergence = Literal["kl", "chi2", "variance"]
DIVERGENCES: tuple[Divergence, ...] = get_args(Divergence)

#: Variance estimators of an estimate (``"none"``: point estimates only).
Variance = Literal["linearization", "bootstrap", "subbootstrap", "canty-davison", "jackknife",
                   "none"]
VARIANCES: tuple[Variance, ...] = get_args(Variance)

#: Replicate-weight methods.
ReplicateMethod = Literal["bootstrap", "canty-davison", "jackknife"]
REPLICATE_METHODS: tuple[ReplicateMethod, ...] = get_args(ReplicateMethod)

#: Replicate types as R survey names them (``JK1``: unstratified jackknife, ``JKn``:
#: stratified).
ReplicateType = Literal["bootstrap", "canty-davison", "JK1", "JKn"]
REPLICATE_TYPES: tuple[ReplicateType, ...] = get_args(ReplicateType)

#: Strata with a single PSU (R survey's ``survey.lonely.psu``).
LonelyRule = Literal["error", "adjust", "adjust-zero", "certainty", "remove"]
LONELY_RULES: tuple[LonelyRule, ...] = get_args(LonelyRule)

#: How bootstrap replicates are drawn: row by row, by groups of identical rows, or chosen by size.
BootstrapDraw = Literal["auto", "rows", "groups"]
BOOTSTRAP_DRAWS: tuple[BootstrapDraw, ...] = get_args(BootstrapDraw)

#: Statistics of an estimate.
Stat = Literal["mean", "total", "proportion"]
STATS: tuple[Stat, ...] = get_args(Stat)

#: Where weighting runs: in memory or out of core (where asked for, ``"auto"`` picks one by
#: file size: :func:`calib.outofcore.choose_engine`).
Engine = Literal["memory", "duckdb", "dask"]
ENGINE_NAMES: tuple[Engine, ...] = get_args(Engine)

#: Out-of-core engines of a :class:`calib.FileSample`.
FileEngine = Literal["duckdb", "dask"]
FILE_ENGINES: tuple[FileEngine, ...] = get_args(FileEngine)

#: MCMC backends of MRP.
SamplerBackend = Literal["pymc", "nutpie"]
SAMPLER_BACKENDS: tuple[SamplerBackend, ...] = get_args(SamplerBackend)

#: Outcome families of MRP.
Family = Literal["binomial", "categorical"]
FAMILIES: tuple[Family, ...] = get_args(Family)

#: What predicts the human outcome in hybrid estimators: each persona's LLM answer, or the
#: persona cell mean.
Prediction = Literal["llm", "cell"]
PREDICTIONS: tuple[Prediction, ...] = get_args(Prediction)

#: Census target universes (:func:`calib.data.datasets.census_targets`).
Universe = Literal["cvap", "acs2023"]
UNIVERSES: tuple[Universe, ...] = get_args(Universe)

__all__ = [
    "MissingRule", "MISSING_RULES", "Scale", "SCALES", "DistanceName", "DISTANCE_NAMES",
    "Divergence", "DIVERGENCES", "Variance", "VARIANCES", "ReplicateMethod",
    "REPLICATE_METHODS", "ReplicateType", "REPLICATE_TYPES", "LonelyRule", "LONELY_RULES", "BootstrapDraw", "BOOTSTRAP_DRAWS",
    "Stat", "STATS", "Engine", "ENGINE_NAMES", "FileEngine", "FILE_ENGINES", "SamplerBackend",
    "SAMPLER_BACKENDS", "Family", "FAMILIES", "Prediction", "PREDICTIONS", "Universe",
    "UNIVERSES",
]
