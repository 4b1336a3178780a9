"""Capability table of the weighting methods, one :class:`Method` record per method.

In the style of WeightIt's ``weightit_methods``: each record says what the method takes
(``kind``), where its Sample-level function and its cell-level solve live, its options (with
types and defaults) and what it supports: replicate recalibration, out of core
(:class:`calib.FileSample`, ``--engine duckdb|dask``), chains of steps, trimming, infeasibility
diagnosis, ``allow_nonconvergence`` and the CLI flags it accepts. Every path reads this table:
:meth:`calib.Sample.weight`, :func:`calib.outofcore.solve.solve_cells`, replicate
recalibration (:mod:`calib.estimation.replicates`), the variance residualization
(:mod:`calib.estimation.linearization`, :mod:`calib.outofcore.estimate`) and the CLI.

Adding a method is one module (a Sample-level function and, for a cell method, a
``solve_cells(problem, **options) -> CellSolution``) plus one :func:`register` call or one
entry of :data:`METHODS`. Functions are imported lazily, so naming a method (CLI help, study
files) does not import heavy dependencies (cvxpy for ``optimal``).

Call shapes: ``targets`` methods ``(sample, targets, **options) -> Sample``; ``reference``
methods ``(sample, reference, **options) -> Sample``; ``none`` ``(sample, **options) -> Sample``.

:func:`markdown` renders the capability table that docs/design.md carries
(``python tools/registry_table.py`` writes it there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal

from calib.core.errors import CalibError, DataError

Kind = Literal["targets", "reference", "none"]
#: The cell algorithm a method's replicates and variance build on: ``ipf`` (raking: replicates
#: re-raked by the compiled batch IPF, variance by R's raking residuals), ``closed_form``
#: (poststratification), ``newton`` (calibration), ``other`` (no shared kernel).
Kernel = Literal["ipf", "closed_form", "newton", "other"]

#: Capability flags of a record, in the order of the docs table.
CAPABILITIES = ("replicates", "out_of_core", "chains", "trimming", "infeasibility",
                "allow_nonconvergence")


@dataclass(frozen=True)
class Option:
    """One option of a weighting method.

    Attributes
    ----------
    name : keyword of the method's functions.
    type : its type, as text (``"float"``, ``"tuple[float, float] | None"``).
    default : its default value.
    doc : one line.
    out_of_core : False when the option needs the rows (e.g. rake's ``cap`` needs each row's
        base weight), so the file path refuses it.
    """

    name: str
    type: str
    default: Any
    doc: str
    out_of_core: bool = True


@dataclass(frozen=True)
class Method:
    """What one weighting method is and supports.

    Attributes
    ----------
    name : the method's name (``Sample.weight(name, ...)``, ``--method name``).
    kind : what it takes besides the sample: ``"targets"``, ``"reference"`` or ``"none"``.
    function : ``"module:function"`` of the Sample-level function.
    cells : ``"module:function"`` of the cell-level solve
        ``solve_cells(problem, **options) -> CellSolution`` (None: the method has none).
    options : the method's options.
    kernel : the cell algorithm (see :data:`Kernel`); None for a method without calibration
        metadata.
    replicates : replicate weights (bootstrap, jackknife) recalibrate the step per replicate.
    out_of_core : solved on cells from files (``FileSample``, ``--engine duckdb|dask``).
    chains : may follow another weighting step on an in-memory Sample.
    trimming : trims weights (a ``trim`` option, or the method is trimming).
    infeasibility : names the entries that bounds make unreachable (InfeasibleError).
    allow_nonconvergence : takes ``allow_nonconvergence=True`` (warn, do not raise).
    cli_flags : the ``calib weight`` flags the method accepts, besides ``--method``,
        ``--base-weight`` and ``--trim`` (a trim step after any method).
    replay : options that :func:`calib.estimation.persist.save_sample` stores to replay the step.
    rows : ``"module:function"`` replaying a step without calibration metadata (``trim``) on
        replicate weights: ``(W (k, n), step options, first replicate) -> W``; replicate
        weights need it (or a calibration ``kernel``) when ``replicates`` is True.
    """

    name: str
    kind: Kind
    function: str
    cells: str | None = None
    options: tuple[Option, ...] = ()
    kernel: Kernel | None = None
    replicates: bool = False
    out_of_core: bool = False
    chains: bool = True
    trimming: bool = False
    infeasibility: bool = False
    allow_nonconvergence: bool = False
    cli_flags: tuple[str, ...] = ()
    replay: tuple[str, ...] = ()
    rows: str | None = None

    def load(self) -> Callable[..., Any]:
        """The Sample-level function, imported on first use."""
        return resolve(self.function)

    def solve_cells(self, problem: Any, **options: Any) -> Any:
        """Solve the method on a cell problem (:class:`calib.weighting.problem.CellDesign`).

        Raises
        ------
        CalibError
            When the method has no cell-level solve.
        """
        if self.cells is None:
            raise CalibError(
                f"weighting method {self.name!r} has no cell-level solve; weight an in-memory "
                "calib.Sample with it"
            )
        return resolve(self.cells)(problem, **options)

    def option(self, name: str) -> Option:
        """The option called ``name``."""
        for o in self.options:
            if o.name == name:
                return o
        raise CalibError(
            f"{self.name} has no option {name!r}; its options are "
            f"{[o.name for o in self.options]}"
        )

    def defaults(self) -> dict[str, Any]:
        """Option name -> default."""
        return {o.name: o.default for o in self.options}

    def require(self, capability: str, where: str) -> None:
        """Raise a DataError (a CalibError) when the method does not declare ``capability``.

        Examples
        --------
        >>> method("optimal").require("replicates", "replicate weights")
        Traceback (most recent call last):
        ...
        calib.core.errors.DataError: weighting method 'optimal' does not support replicate weights (its registry record has replicates=False); the methods that do: ...
        """
        if capability not in CAPABILITIES:
            raise CalibError(f"unknown capability {capability!r}; one of {CAPABILITIES}")
        if not getattr(self, capability):
            supported = [m for m in METHODS if getattr(METHODS[m], capability)]
            raise DataError(
                f"weighting method {self.name!r} does not support {where} (its registry "
                f"record has {capability}=False); the methods that do: {supported}"
            )


def resolve(spec: str) -> Callable[..., Any]:
    """The object named by ``"module:function"``, imported on first use.

    Examples
    --------
    >>> resolve("calib.weighting.rake:rake").__name__
    'rake'
    """
    mod, _, fn = spec.partition(":")
    return getattr(import_module(mod), fn)


# -- the table ------------------------------------------------------------------------------
_MISSING = Option("missing", "Literal['error', 'drop', 'level']", "error",
                  "missing values in the weighting variables")
_POPULATION = Option("population", "float | None", None,
                     "population total that share targets are scaled to")
_ALLOW = Option("allow_nonconvergence", "bool", False,
                "warn and return (step.converged=False) instead of raising")

METHODS: dict[str, Method] = {
    "poststratify": Method(
        "poststratify", "targets", "calib.weighting.poststratify:poststratify",
        cells="calib.weighting.poststratify:solve_cells",
        options=(
            Option("collapse", "Mapping[str, Mapping[str, str]] | None", None,
                   "merge a level into a neighbour before solving", out_of_core=False),
            _POPULATION, _MISSING,
        ),
        kernel="closed_form", replicates=True, out_of_core=True,
        cli_flags=("--targets", "--population", "--missing"),
        replay=("collapse", "missing"),
    ),
    "rake": Method(
        "rake", "targets", "calib.weighting.rake:rake",
        cells="calib.weighting.rake:solve_cells",
        options=(
            Option("tol", "float", 1e-10, "largest relative margin error to reach"),
            Option("max_iter", "int", 1000, "most sweeps over the margins"),
            Option("cap", "float | None", None,
                   "cap weights at cap x the mean weight at every sweep (needs the rows)",
                   out_of_core=False),
            _POPULATION, _MISSING, _ALLOW,
        ),
        kernel="ipf", replicates=True, out_of_core=True, allow_nonconvergence=True,
        cli_flags=("--targets", "--cap", "--tol", "--max-iter", "--population", "--missing"),
        replay=("tol", "max_iter", "cap", "missing"),
    ),
    "calibrate": Method(
        "calibrate", "targets", "calib.weighting.calibrate:calibrate",
        cells="calib.weighting.calibrate:solve_cells",
        options=(
            Option("distance", "Literal['linear', 'raking', 'logit', 'truncated']", "linear",
                   "calibration distance"),
            Option("bounds", "tuple[float, float] | None", None, "bounds (L, U) on g"),
            Option("tol", "float", 1e-7, "R's epsilon: max |misfit| / (1 + |total|)"),
            Option("max_iter", "int", 50, "most Newton steps"),
            Option("trim", "tuple[float, float] | None", None,
                   "(lo, hi) on g after solving, as R calibrate(trim=)"),
            _POPULATION, _MISSING, _ALLOW,
        ),
        kernel="newton", replicates=True, out_of_core=True, trimming=True,
        infeasibility=True, allow_nonconvergence=True,
        cli_flags=("--targets", "--distance", "--bounds", "--tol", "--max-iter",
                   "--population", "--missing"),
        replay=("distance", "bounds", "tol", "max_iter", "trim", "missing"),
    ),
    "optimal": Method(
        "optimal", "targets", "calib.weighting.optimal:optimal",
        options=(
            Option("divergence", "Literal['kl', 'chi2', 'variance']", "kl", "divergence"),
            Option("bounds", "tuple[float, float] | None", None, "bounds (L, U) on g"),
            Option("tolerance", "float | None", None, "relative error allowed per entry"),
            Option("soft", "bool", False, "targets with an se become soft"),
            Option("solver", "str", "CLARABEL", "the cvxpy solver"),
            _POPULATION, _MISSING,
        ),
        kernel="other", infeasibility=True,
        cli_flags=("--targets", "--divergence", "--bounds", "--population", "--missing"),
    ),
    "propensity": Method(
        "propensity", "reference", "calib.weighting.propensity:propensity",
        options=(
            Option("variables", "Sequence[str] | None", None, "covariates of the model"),
            Option("reference_weight", "str | None", None, "weight column of the reference"),
            Option("C", "float", 1.0, "inverse L2 penalty of the logistic model"),
            Option("trim", "float | None", None, "cap weights at trim x the mean weight"),
            _MISSING,
            Option("max_iter", "int", 1000, "most iterations of the logistic fit"),
        ),
        trimming=True,
        # no --population: propensity scales the weights to the reference's total weight
        cli_flags=("--reference", "--reference-weight", "--missing", "--penalty-c",
                   "--variables"),
    ),
    "trim": Method(
        "trim", "none", "calib.weighting.trim:trim",
        options=(
            Option("upper", "float | None", None, "absolute cap on a weight"),
            Option("upper_mult", "float | None", None, "cap at a multiple of the mean weight"),
            Option("quantile", "float | None", None, "cap at a quantile of the weights"),
            Option("lower", "float | None", None, "absolute floor"),
            Option("lower_mult", "float | None", None, "floor at a multiple of the mean"),
            Option("strict", "bool", True, "repeat until no weight is outside the limits"),
            Option("redistribute", "Literal['equal', 'proportional']", "equal",
                   "how the trimmed weight is spread"),
        ),
        trimming=True, replicates=True, rows="calib.weighting.trim:trim_replicates",
        replay=("upper", "lower", "strict", "redistribute"),
    ),
}


def available() -> list[str]:
    """Names of the registered methods.

    Examples
    --------
    >>> available()[:3]
    ['poststratify', 'rake', 'calibrate']
    """
    return list(METHODS)


def method(name: str) -> Method:
    """The :class:`Method` record of ``name``.

    Examples
    --------
    >>> method("rake").out_of_core, method("rake").option("tol").default
    (True, 1e-10)
    """
    try:
        return METHODS[name]
    except KeyError:
        raise CalibError(
            f"unknown weighting method {name!r}; choose one of {', '.join(METHODS)}"
        ) from None


def kind(name: str) -> str:
    """What the method takes besides the sample: ``targets``, ``reference`` or ``none``."""
    return method(name).kind


def get(name: str) -> Callable[..., Any]:
    """The method's Sample-level function, imported on first use."""
    return method(name).load()


def methods(**capabilities: bool) -> tuple[Method, ...]:
    """The records whose fields equal ``capabilities`` (all records without arguments).

    Examples
    --------
    >>> [m.name for m in methods(out_of_core=True)]
    ['poststratify', 'rake', 'calibrate']
    """
    return tuple(m for m in METHODS.values()
                 if all(getattr(m, k) == v for k, v in capabilities.items()))


def cli_methods() -> tuple[str, ...]:
    """Names ``--method`` accepts: every method that takes targets or a reference."""
    return tuple(m.name for m in METHODS.values() if m.kind != "none")


def register(
    name: str | Method,
    module: str | None = None,
    function: str | None = None,
    kind: Kind = "targets",
    **fields: Any,
) -> Method:
    """Register a method: a :class:`Method` record, or its name, module and function.

    With a name, the other record fields (``cells``, ``options``, capability flags...) are
    keywords; capabilities not given are False (the method is refused where it is not
    supported).

    Examples
    --------
    >>> m = register("rake2", "calib.weighting.rake", "rake", out_of_core=False)
    >>> m.kind, m.out_of_core, get("rake2").__name__
    ('targets', False, 'rake')
    >>> del METHODS["rake2"]
    """
    if isinstance(name, Method):
        rec = name
    else:
        if module is None or function is None:
            raise CalibError("register(name, module, function): give the module and function")
        rec = Method(name, kind, f"{module}:{function}", **fields)
    METHODS[rec.name] = rec
    return rec


# -- the docs table -------------------------------------------------------------------------
def markdown() -> str:
    """The capability table by method, as docs/design.md carries it.

    Examples
    --------
    >>> markdown().splitlines()[0].startswith("| method | kind |")
    True
    """
    def yes(b: bool) -> str:
        return "yes" if b else "-"

    head = ("| method | kind | cell solve | replicates | out of core | chains | trimming | "
            "infeasibility | allow_nonconvergence | options (default) | CLI flags |")
    lines = [head, "|" + "---|" * 11]
    for m in METHODS.values():
        opts = ", ".join(f"`{o.name}` ({o.default!r}"
                         + ("; in memory only" if not o.out_of_core else "") + ")"
                         for o in m.options)
        flags = " ".join(f"`{f}`" for f in m.cli_flags) or "-"
        cells = f"`{m.cells.split(':')[0].rsplit('.', 1)[-1]}.solve_cells`" if m.cells else "-"
        lines.append(
            f"| `{m.name}` | {m.kind} | {cells} | {yes(m.replicates)} | {yes(m.out_of_core)} | "
            f"{yes(m.chains)} | {yes(m.trimming)} | {yes(m.infeasibility)} | "
            f"{yes(m.allow_nonconvergence)} | {opts} | {flags} |"
        )
    return "\n".join(lines) + "\n"


__all__ = ["Method", "Option", "METHODS", "CAPABILITIES", "available", "method", "kind", "get",
           "methods", "cli_methods", "register", "markdown", "resolve"]
