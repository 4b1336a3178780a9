"""How an MRP posterior is sampled: the :class:`Sampler` settings of :func:`calib.mrp.fit`.

One frozen object instead of a dozen threaded keywords: the NUTS backend, draws, tuning,
chains, seed, target acceptance, processes, backend options, the parametrization of the
varying intercepts (centred or not: the same posterior, a different geometry for NUTS), the
compiled-model cache and the progress bar. :func:`fit_options` turns a flat option mapping (a
study configuration such as ``{"draws": 500, "sampler": "nutpie", "gate": "warn"}``) into
:func:`~calib.mrp.fit` keywords.

Examples
--------
>>> s = Sampler(draws=300, tune=300, chains=2, backend="nutpie", seed=1)
>>> s.draws, s.backend, s.centered
(300, 'nutpie', 'auto')
>>> kw = fit_options({"draws": 500, "sampler": "nutpie", "gate": "warn", "family": "binomial"})
>>> kw["sampler"].draws, kw["sampler"].backend, kw["gate"].action, kw["family"]
(500, 'nutpie', 'warn', 'binomial')
>>> Sampler(backend="stan")
Traceback (most recent call last):
...
calib.core.errors.DataError: Sampler(backend='stan'): use 'pymc' (PyMC's NUTS) or 'nutpie'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from numbers import Integral
from typing import Any, Literal

from calib.core.errors import DataError
from calib.core.literals import SamplerBackend
from calib.mrp.diagnostics import Gate

#: The NUTS implementations :func:`calib.mrp.fit` runs.
Backend = SamplerBackend
BACKENDS: tuple[str, ...] = ("nutpie", "pymc")

#: Default smallest per-level row count for the centred parametrization (``centered="auto"``).
CENTER_MIN = 100

#: Parametrization of the group terms: ``"auto"``, one bool for all, or ``{term: bool}``.
Centered = bool | Literal["auto"] | Mapping[str, bool]


@dataclass(frozen=True)
class Sampler:
    """Settings of the posterior sampling of an MRP fit.

    Attributes
    ----------
    draws, tune, chains : draws and tuning draws per chain, and the number of chains.
    backend : ``"nutpie"`` (nutpie's NUTS on the PyMC model, numba-compiled; the fast one) or
        ``"pymc"`` (PyMC's own NUTS, ``nuts_sampler="pymc"``: PyMC 6 would otherwise hand off
        to nutpie when it is installed).
    seed : random seed of the sampler (None: nutpie uses 0, PyMC a fresh one).
    target_accept : NUTS target acceptance rate. None: 0.8, and when that run has divergent
        transitions one more run at 0.95 with the compiled model reused
        (:data:`calib.mrp.model.RETRY_TARGET_ACCEPT`); a number: that rate, no retry.
    cores : chains run in parallel on this many processes/threads (None: one per chain, at
        most the CPUs this process may use).
    options : extra keyword arguments of ``nutpie.sample`` (on top of
        :data:`calib.mrp.model.NUTPIE_DEFAULTS`, ``{"adaptation": "low_rank"}``; e.g.
        ``{"adaptation": "diag"}``) or ``pm.sample``.
    centered : ``"auto"`` (per group term: centred when the smallest per-level row count over
        levels with data is at least ``center_min``), a bool for every term, or
        ``{term: bool}`` (terms not named: auto). The posterior is the same; the geometry NUTS
        explores is not.
    center_min : the row count of ``centered="auto"`` (default :data:`CENTER_MIN`).
    cache : reuse a compiled model of the same structure from an earlier fit in this process
        (:func:`calib.mrp.model.structure_key`).
    progress : a progress bar of the draws on stderr (None: when stderr is a terminal).
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    backend: Backend = "pymc"
    seed: int | None = None
    target_accept: float | None = None
    cores: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    centered: Centered = "auto"
    center_min: float = CENTER_MIN
    cache: bool = True
    progress: bool | None = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise DataError(f"Sampler(backend={self.backend!r}): use 'pymc' (PyMC's NUTS) or "
                            "'nutpie'")
        for name in ("draws", "tune", "chains"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < (
                    0 if name == "tune" else 1):
                raise DataError(f"Sampler({name}={value!r}): a whole number"
                                + (" >= 0" if name == "tune" else " >= 1"))
        if not (self.centered == "auto" or isinstance(self.centered, bool | Mapping)):
            raise DataError(f"Sampler(centered={self.centered!r}): use 'auto', True/False or a "
                            "dict per term")


#: Option names of a flat mapping that :func:`fit_options` reads into a :class:`Sampler`,
#: with the names of the keywords ``calib.mrp.fit`` had before the Sampler (study files use
#: them): ``sampler`` (the backend) and ``sampler_options``.
_ALIASES = {"sampler": "backend", "sampler_options": "options"}


def fit_options(options: Mapping[str, Any], base: Sampler | None = None) -> dict[str, Any]:
    """:func:`calib.mrp.fit` keywords from a flat option mapping (e.g. a study configuration).

    Sampler settings (``draws``, ``tune``, ``chains``, ``seed``, ``target_accept``, ``cores``,
    ``centered``, ``center_min``, ``cache``, ``progress``, ``backend`` or ``sampler``,
    ``options`` or ``sampler_options``) replace those of ``base`` (default :class:`Sampler`)
    in ``sampler``; ``gate`` and ``thresholds`` become a :class:`~calib.mrp.diagnostics.Gate`;
    ``domain_key`` names the key of ``domain_predictors``; every other option is returned as
    it is.

    >>> fit_options({"chains": 2, "thresholds": {"max_rhat": 1.05}, "bias_by": None})["gate"]
    Gate(action='raise', max_rhat=1.05, min_ess_bulk=400.0, min_ess_tail=400.0, max_divergences=0.0)
    """
    names = {f.name for f in fields(Sampler)}
    settings: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in options.items():
        name = _ALIASES.get(key, key)
        if name in names:
            settings[name] = value
        else:
            rest[key] = value
    out = dict(rest)
    out["sampler"] = replace(base if base is not None else Sampler(), **settings)
    if "gate" in rest or "thresholds" in rest:
        out["gate"] = Gate.of(out.pop("gate", "raise"), out.pop("thresholds", None))
    key = out.pop("domain_key", None)
    if key is not None:
        if out.get("domain_predictors") is None:
            raise DataError(f"domain_key={key!r} names the key of domain_predictors; give "
                            "domain_predictors too, or drop domain_key")
        out["domain_predictors"] = {key: out["domain_predictors"]}
    return out


__all__ = ["Sampler", "fit_options", "BACKENDS", "CENTER_MIN", "Backend"]
