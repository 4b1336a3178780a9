"""The weighting options shared by ``calib weight`` and ``calib estimate``, defined once.

:func:`weighting_options` is a decorator that adds the options to a Typer command and hands
the command one :class:`WeightingOptions`; :func:`apply` turns a frame and those options into
a weighted :class:`calib.Sample` through the method registry (heavy solvers such as cvxpy are
imported only when their method is named).

Examples
--------
>>> import pandas as pd
>>> from pathlib import Path
>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "t.csv").write_text("variable,level,share\\nsex,F,0.5\\nsex,M,0.5\\n")
>>> frame = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
>>> s = apply(frame, WeightingOptions(targets=d / "t.csv", method="rake"))
>>> s.weights.round(4).tolist()
[2.0, 0.6667, 0.6667, 0.6667]
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from calib.cli.commands._io import read_frame, require_columns, to_numeric
from calib.core.errors import DataError
from calib.weighting import registry
from calib.weighting.distance import bound_pair

#: ``--method`` choices: the registry's methods that take targets or a reference.
METHOD_NAMES = registry.cli_methods()
PANEL = "Weighting"
#: Flags every method takes (``--trim`` adds a trim step after the method); any other flag
#: must be among the method's ``cli_flags`` in the registry.
GENERIC_FLAGS = ("method", "base_weight", "trim")
#: Flags that name the method's input rather than an option of its function.
_INPUTS = ("targets", "reference", "reference_weight")
#: Flags whose option of the method's function has another name (``--penalty-c`` sets ``C``).
KWARGS = {"penalty_c": "C"}


@dataclass(frozen=True)
class WeightingOptions:
    """Every weighting flag of ``calib weight`` (``None``: not given)."""

    targets: Path | None = None
    method: str | None = None
    distance: str | None = None
    bounds: tuple[float, float] | None = None
    cap: float | None = None
    divergence: str | None = None
    trim: float | None = None
    population: float | None = None
    base_weight: str | None = None
    reference: Path | None = None
    reference_weight: str | None = None
    tol: float | None = None
    max_iter: int | None = None
    missing: str | None = None
    penalty_c: float | None = None
    variables: tuple[str, ...] | None = None

    @property
    def given(self) -> bool:
        """True when any flag that asks for weighting was given."""
        return self.targets is not None or self.method is not None or self.reference is not None


def _opt(*decls: str, help: str, **kw: Any) -> typer.models.OptionInfo:  # noqa: A002
    return typer.Option(*decls, help=help, rich_help_panel=PANEL, **kw)


#: name -> (annotation, default): the parameters :func:`weighting_options` adds.
OPTIONS: dict[str, tuple[Any, Any]] = {
    "targets": (Annotated[Path | None, _opt(
        "--targets", help="targets file, long format: variable,level,total|share[,se]")], None),
    "method": (Annotated[str | None, _opt(
        "--method", help="|".join(METHOD_NAMES))], None),
    "distance": (Annotated[str | None, _opt(
        "--distance", help="calibrate: linear|raking|logit|truncated (default linear)")], None),
    "bounds": (Annotated[tuple[float, float] | None, _opt(
        "--bounds", help="calibrate, optimal: bounds L U on g = w / d")], None),
    "cap": (Annotated[float | None, _opt(
        "--cap", help="rake: cap weights at X times the mean weight at every sweep")], None),
    "divergence": (Annotated[str | None, _opt(
        "--divergence", help="optimal: kl|chi2|variance (default kl)")], None),
    "trim": (Annotated[float | None, _opt(
        "--trim", help="afterwards cap weights at X times the mean, excess redistributed")], None),
    "population": (Annotated[float | None, _opt(
        "--population", help="population total N that share targets are scaled to")], None),
    "base_weight": (Annotated[str | None, _opt(
        "--base-weight", help="column of base (design) weights; default all 1")], None),
    "reference": (Annotated[Path | None, _opt(
        "--reference", help="propensity: reference microdata file (CSV/Parquet)")], None),
    "reference_weight": (Annotated[str | None, _opt(
        "--reference-weight", help="propensity: weight column of --reference")], None),
    "tol": (Annotated[float | None, _opt(
        "--tol", help="rake, calibrate: convergence tolerance")], None),
    "max_iter": (Annotated[int | None, _opt(
        "--max-iter", help="rake, calibrate: most iterations")], None),
    "missing": (Annotated[str | None, _opt(
        "--missing", help="missing values in weighting variables: error|drop|level "
        "(default error; dropped rows get an empty weight)")], None),
    "penalty_c": (Annotated[float | None, _opt(
        "--penalty-c", help="propensity: inverse L2 penalty C of the logistic model "
        "(default 1; larger = less regularization, inf = none)")], None),
    "variables": (Annotated[list[str] | None, _opt(
        "--variables", help="propensity: covariates of the model, repeated or comma-separated "
        "(default the harmonized variables both files have)")], None),
}


def weighting_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared weighting options to a Typer command.

    The command declares a keyword parameter ``weighting`` and receives a
    :class:`WeightingOptions` there.

    Examples
    --------
    >>> @weighting_options
    ... def cmd(x: int, weighting: WeightingOptions) -> WeightingOptions:
    ...     return weighting
    >>> "cap" in inspect.signature(cmd).parameters
    True
    >>> cmd(1, method="rake").method
    'rake'
    """
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.name != "weighting"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
        for name, (ann, default) in OPTIONS.items()
    ]
    names = [f.name for f in fields(WeightingOptions)]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opts = {n: kwargs.pop(n, OPTIONS[n][1]) for n in names}
        opts["variables"] = split_variables(opts["variables"])
        return func(*args, weighting=WeightingOptions(**opts), **kwargs)

    wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[*own, *added], return_annotation=inspect.Signature.empty
    )
    wrapper.__annotations__ = {p.name: p.annotation for p in (*own, *added)}
    del wrapper.__wrapped__  # typer must see the new signature, not the wrapped one
    return wrapper


def split_variables(values: Any) -> tuple[str, ...] | None:
    """``--variables`` given repeated and/or comma-separated, as one tuple of names.

    Examples
    --------
    >>> split_variables(["age,sex", "educ"])
    ('age', 'sex', 'educ')
    """
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return tuple(v.strip() for item in values for v in str(item).split(",") if v.strip())


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def flag_methods(name: str) -> tuple[str, ...]:
    """The methods whose registry record accepts the flag of option ``name``.

    Examples
    --------
    >>> flag_methods("cap")
    ('rake',)
    """
    return tuple(m.name for m in registry.methods() if _flag(name) in m.cli_flags)


def _method_kwargs(opts: WeightingOptions, method: registry.Method) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for f in fields(WeightingOptions):
        value = getattr(opts, f.name)
        if value is None or f.name in GENERIC_FLAGS:
            continue
        if _flag(f.name) not in method.cli_flags:
            raise DataError(
                f"{_flag(f.name)} does not apply to --method {method.name}; it applies to "
                f"{', '.join(flag_methods(f.name))}. Drop it or change --method"
            )
        if f.name not in _INPUTS:
            value = tuple(value) if f.name in ("bounds", "variables") else value
            kwargs[KWARGS.get(f.name, f.name)] = value
    return kwargs


def validate(opts: WeightingOptions) -> registry.Method:
    """Check the weighting flags as every path (in memory and out of core) does; return the
    method's registry record.

    Raises
    ------
    DataError
        No or an unknown ``--method``, a missing ``--targets``/``--reference``, a flag the
        method does not take, or a bad value.

    Examples
    --------
    >>> validate(WeightingOptions(targets=Path("t.csv"))).name
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: --method is missing; choose one of poststratify|rake|calibrate|optimal|propensity
    """
    names = registry.cli_methods()  # read now: a method registered later is offered too
    if opts.method is None:
        raise DataError("--method is missing; choose one of " + "|".join(names))
    if opts.method not in names:
        raise DataError(
            f"--method {opts.method!r} is not a weighting method; choose one of "
            + "|".join(names)
        )
    m = registry.method(opts.method)
    if m.kind == "reference":
        if opts.reference is None:
            raise DataError(f"--method {m.name} needs --reference FILE (reference microdata)")
    else:
        if opts.targets is None:
            raise DataError(f"--method {m.name} needs --targets FILE (long-format targets)")
        for flag in ("reference", "reference_weight"):
            if getattr(opts, flag) is not None:
                raise DataError(
                    f"{_flag(flag)} applies to --method "
                    f"{', '.join(flag_methods(flag))} only; drop it")
    _check_values(opts)
    _method_kwargs(opts, m)  # a flag the method does not take is refused here
    return m


def _check_values(opts: WeightingOptions) -> None:
    """Refuse bad values of the flags, naming the flag."""
    if opts.missing is not None and opts.missing not in ("error", "drop", "level"):
        raise DataError(f"--missing {opts.missing!r}: use error, drop or level")
    if opts.tol is not None and not (math.isfinite(opts.tol) and opts.tol > 0):
        raise DataError(f"--tol {opts.tol}: the convergence tolerance must be > 0, e.g. 1e-10")
    if opts.max_iter is not None and opts.max_iter < 1:
        raise DataError(f"--max-iter {opts.max_iter}: give at least 1 iteration (e.g. 1000)")
    if opts.population is not None and not (math.isfinite(opts.population)
                                            and opts.population > 0):
        raise DataError(f"--population {opts.population}: the population total must be a "
                        "number > 0")
    if opts.trim is not None and not opts.trim > 1:
        raise DataError(f"--trim {opts.trim}: the cap is a multiple of the mean weight; use > 1")
    if opts.bounds is not None:
        bound_pair(opts.bounds, f"--bounds {opts.bounds[0]} {opts.bounds[1]}")
    if opts.penalty_c is not None and not opts.penalty_c > 0:
        raise DataError(f"--penalty-c {opts.penalty_c}: the inverse penalty C must be > 0 "
                        "(inf for no penalty)")
    if opts.variables is not None and not opts.variables:
        raise DataError("--variables: name at least one column")


def method_options(opts: WeightingOptions, method: registry.Method) -> dict[str, Any]:
    """The keyword options of the method's function from the flags (inputs excluded).

    Examples
    --------
    >>> method_options(WeightingOptions(targets=Path("t.csv"), method="rake", tol=1e-8),
    ...                registry.method("rake"))
    {'tol': 1e-08}
    """
    return _method_kwargs(opts, method)


def read_targets(opts: WeightingOptions) -> Any:
    """The ``--targets`` file as :class:`calib.Targets` (None for propensity)."""
    from calib.core.targets import Targets

    if opts.targets is None:
        return None
    targets = Targets.read(opts.targets)
    check_population(targets, opts.population)
    return targets


def check_population(targets: Any, population: float | None) -> None:
    """Refuse ``--population`` when no categorical margin is given as shares: it scales
    shares only, so with totals it would be silently ignored (the totals already fix the
    population). Refused rather than applied: rescaling the user's totals would change
    numbers they wrote down."""
    if population is None or targets is None:
        return
    if not any(m.scale == "share" and not m.numeric for m in targets.margins):
        raise DataError(
            f"--population {population:g}: the targets are totals, which already fix the "
            "population (--population scales share targets only); drop --population, or "
            "give the targets as shares")


def prepare(frame: pd.DataFrame, targets: Any, opts: WeightingOptions) -> pd.DataFrame:
    """Numeric auxiliaries as numbers; every other targeted column stays as read (text)."""
    if targets is None:
        return frame
    need = list(targets.variables)
    require_columns(frame, need, "INPUT (variables named in --targets)")
    numeric = [v for v in targets.numeric_variables if v in frame.columns]
    if not numeric:
        return frame
    frame = frame.copy(deep=False)  # copy-on-write: the caller's frame keeps its columns
    for v in numeric:
        frame[v] = to_numeric(frame, v, f"numeric auxiliary {v!r}")
    return frame


def base_sample(frame: pd.DataFrame, opts: WeightingOptions, *, weight: str | None = None,
                strata: str | None = None, cluster: str | None = None) -> Any:
    """An unweighted :class:`calib.Sample` with base weights from ``--base-weight``/``weight``."""
    from calib.core.sample import Sample

    col = opts.base_weight or weight
    w = None
    if col is not None:
        require_columns(frame, [col], "INPUT (weight column)")
        flag = "--base-weight" if opts.base_weight else "--weight"
        w = to_numeric(frame, col, f"{flag} {col}").to_numpy()
    require_columns(frame, [strata, cluster], "INPUT (design columns)")
    return Sample(frame, weight=w, strata=strata, cluster=cluster)


def apply(frame: pd.DataFrame, opts: WeightingOptions, *, strata: str | None = None,
          cluster: str | None = None) -> Any:
    """Weight ``frame`` as the options say and return the weighted :class:`calib.Sample`.

    Raises
    ------
    DataError
        A flag that the method does not take, a missing file or column, bad values.
    """
    m = validate(opts)
    targets = read_targets(opts)
    frame = prepare(frame, targets, opts)
    sample = base_sample(frame, opts, strata=strata, cluster=cluster)
    fn = m.load()  # imports the method (cvxpy for optimal) on demand
    kwargs = method_options(opts, m)
    if m.kind == "reference":
        assert opts.reference is not None  # validate(): a reference method needs --reference
        reference = read_frame(opts.reference, "--reference")
        params = inspect.signature(fn).parameters
        if opts.reference_weight is not None:
            require_columns(reference, [opts.reference_weight], "--reference")
            if "reference_weight" in params:
                kwargs["reference_weight"] = opts.reference_weight
            else:
                from calib.core.sample import Sample

                w = to_numeric(reference, opts.reference_weight, "--reference-weight")
                reference = Sample(reference, weight=w.to_numpy())
        weighted = fn(sample, reference, **kwargs)
    else:
        weighted = fn(sample, targets, **kwargs)
    if opts.trim is not None:
        weighted = weighted.trim(upper_mult=opts.trim)
    return weighted


__all__ = ["WeightingOptions", "weighting_options", "apply", "validate", "method_options",
           "flag_methods", "split_variables", "check_population", "read_targets", "OPTIONS", "METHOD_NAMES", "GENERIC_FLAGS",
           "KWARGS"]
