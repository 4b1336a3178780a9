"""What an estimate asks for: one :class:`EstimateRequest` shared by the Python and CLI paths.

:func:`calib.estimation.estimate` builds one from its keywords (``estimate(sample, "y",
by="state", variance="bootstrap")``) or takes one (``estimate(sample, request)``);
``calib estimate`` builds one from its options; the out-of-core estimate
(:func:`calib.outofcore.estimate.estimate_files`) takes the same request and refuses what it
cannot do.

Examples
--------
>>> r = EstimateRequest("y", by="state", variance="bootstrap", seed=1)
>>> r.variance, r.n_replicates, r.level
('bootstrap', 200, 0.95)
>>> EstimateRequest.of("y", varience="bootstrap")
Traceback (most recent call last):
...
calib.core.errors.DataError: unknown estimate option 'varience'; the options are by, stat, variance, level, replicates, seed, targets_se, lonely, mse, bootstrap_draw, progress, missing
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from calib.core.errors import DataError
from calib.core.literals import (
    BOOTSTRAP_DRAWS,
    VARIANCES,
    BootstrapDraw,
    MissingRule,
    Stat,
    Variance,
)
from calib.estimation.design import LONELY, Lonely

#: the option types are those of :mod:`calib.core.literals` (one definition each)
Missing = MissingRule
#: the missing-value rules in the order the messages list them (``drop`` is the default here)
MISSING: tuple[str, ...] = ("drop", "error", "level")
#: Bootstrap replicates of a request without ``replicates``.
DEFAULT_REPLICATES = 200


@dataclass(frozen=True)
class EstimateRequest:
    """One estimate: the outcome, the domains, the statistic and how its variance is computed.

    Attributes
    ----------
    outcome : a column. Numeric or boolean: one row per domain (``level=""``); text or
        categorical: one row per level and domain (shares for ``mean``/``proportion``).
    by : a domain column; rows with a missing domain value belong to no domain (warned).
    stat : ``"mean"``, ``"total"`` or ``"proportion"`` (a 0/1 numeric outcome, or shares of
        a categorical one).
    variance : ``"linearization"``, ``"bootstrap"`` (Rao-Wu, R's ``subbootstrap``;
        ``"subbootstrap"`` is a synonym, stored as ``"bootstrap"``), ``"canty-davison"`` (R's
        ``as.svrepdesign(type="bootstrap")``), ``"jackknife"`` or ``"none"`` (se, ci and deff
        are then NaN: not computed).
    level : confidence level of the normal-theory (Wald) interval, in (0, 1).
    replicates, seed : bootstrap replicates (None: :data:`DEFAULT_REPLICATES`) and seed.
    targets_se : include the targets' own sampling error (margins with ``se``); bootstrap
        only: each replicate perturbs the target totals.
    lonely : single-PSU strata: ``"error"``, ``"adjust"`` (R survey >= 4.4: centred at the
        grand mean of the PSU totals), ``"adjust-zero"`` (R <= 4.3: centred at zero),
        ``"certainty"``, ``"remove"``.
    mse : centre replicate variances at the full-sample estimate instead of the replicates'
        mean (R ``mse=TRUE``; the default follows R's ``mse=FALSE``).
    bootstrap_draw : ``"rows"``, ``"groups"`` or ``"auto"`` (see
        :func:`calib.estimation.estimate`).
    progress : a progress bar over the replicates on stderr (None: when stderr is a
        terminal).
    missing : rows whose outcome or domain is missing (blank, NaN or a token such as ``NA``
        or ``refused``, :data:`calib.core.cells.MISSING_TOKENS`): ``"drop"`` (default: left
        out, counted in ``attrs`` and warned), ``"error"`` (refused, naming the count and
        the first row) or ``"level"`` (a level ``"Missing"`` of a categorical outcome or of
        the domain; a numeric outcome cannot have it).

    Raises
    ------
    DataError
        An unknown variance, lonely option or bootstrap draw, a level outside (0, 1),
        ``targets_se`` without the (Rao-Wu) bootstrap.
    """

    outcome: str
    by: str | None = None
    stat: Stat = "mean"
    variance: Variance = "linearization"
    level: float = 0.95
    replicates: int | None = None
    seed: int | None = None
    targets_se: bool = False
    lonely: Lonely = "error"
    mse: bool = False
    bootstrap_draw: BootstrapDraw = "auto"
    progress: bool | None = False
    missing: Missing = "drop"

    def __post_init__(self) -> None:
        if self.variance not in VARIANCES:
            raise DataError(f"variance={self.variance!r}: choose one of {VARIANCES}")
        if self.variance == "subbootstrap":  # R's name of the Rao-Wu bootstrap
            object.__setattr__(self, "variance", "bootstrap")
        if self.lonely not in LONELY:
            raise DataError(f"lonely={self.lonely!r}: choose one of {LONELY}")
        if not 0 < self.level < 1:
            raise DataError(f"level={self.level!r}: the confidence level must be in (0, 1), "
                            "e.g. 0.95")
        if self.targets_se and self.variance != "bootstrap":
            raise DataError(
                f"targets_se=True with variance={self.variance!r}: target uncertainty is "
                "propagated by perturbing the targets per Rao-Wu bootstrap replicate; use "
                "variance='bootstrap'"
            )
        if self.missing not in MISSING:
            raise DataError(f"missing={self.missing!r}: use 'drop', 'error' or 'level'")
        if self.bootstrap_draw not in BOOTSTRAP_DRAWS:
            raise DataError(f"bootstrap_draw={self.bootstrap_draw!r}: use 'auto', 'rows' or "
                            "'groups'")

    @property
    def n_replicates(self) -> int:
        """The bootstrap replicates asked for (``replicates``, default 200)."""
        return DEFAULT_REPLICATES if self.replicates is None else int(self.replicates)

    @classmethod
    def of(cls, outcome: str | EstimateRequest, **options: Any) -> EstimateRequest:
        """A request from an outcome and keyword options, or a request with options replaced.

        >>> EstimateRequest.of(EstimateRequest("y", by="g"), level=0.9).by
        'g'
        """
        names = [f.name for f in fields(cls) if f.name != "outcome"]
        unknown = [k for k in options if k not in names]
        if unknown:
            raise DataError(f"unknown estimate option {unknown[0]!r}; the options are "
                            + ", ".join(names))
        if isinstance(outcome, EstimateRequest):
            return replace(outcome, **options) if options else outcome
        return cls(outcome, **options)


__all__ = ["EstimateRequest", "VARIANCES", "BOOTSTRAP_DRAWS", "MISSING", "Missing", "DEFAULT_REPLICATES", "Stat",
           "Variance", "Lonely", "BootstrapDraw"]
