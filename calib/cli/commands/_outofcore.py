"""The ``--engine`` / ``--scheduler`` path of ``calib weight`` and ``calib estimate``.

The commands call :func:`weight_command` / :func:`estimate_command` first; they return None
when the in-memory command should run as before (engine ``memory`` -- asked for or chosen by
``auto`` -- on one file), else they run out of core with :mod:`calib.outofcore` and print the
engine choice.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from calib.cli.commands._weighting import check_population, method_options, validate
from calib.core.errors import DataError
from calib.outofcore import choose_engine, engine_name, weight_files
from calib.outofcore.sources import expand
from calib.weighting import registry


def _single_file(input: Any) -> bool:  # noqa: A002
    s = os.fspath(input)
    return os.path.isfile(s) and not any(c in s for c in "*?[")


def unsupported(weighting: Any, method: registry.Method) -> list[str]:
    """The given flags that the registry says cannot run out of core.

    A flag is unsupported when the method's record does not declare ``out_of_core``, when the
    option it sets needs the rows (the option's ``out_of_core`` is False, e.g. ``--cap``), and
    for ``--trim``, a second step (a FileSample takes one step; the ``trim`` record declares no
    ``out_of_core``).

    Examples
    --------
    >>> from calib.cli.commands._weighting import WeightingOptions
    >>> unsupported(WeightingOptions(method="rake", cap=3.0), registry.method("rake"))
    ['--cap']
    """
    if not method.out_of_core:
        return [f"--method {method.name}"]
    out = []
    for opt in method.options:
        if not opt.out_of_core and getattr(weighting, opt.name, None) is not None:
            out.append(_flag(opt.name))
    if weighting.trim is not None and not registry.method("trim").out_of_core:
        out.append("--trim")
    return out


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _method_options(weighting: Any, engine: str) -> tuple[registry.Method, dict[str, Any]]:
    """The method's record and options from the flags, checked as in memory (``validate``)."""
    method = validate(weighting)
    opts = method_options(weighting, method)
    if engine != "memory":
        bad = unsupported(weighting, method)
        if bad:
            raise DataError(
                f"{', '.join(bad)} is not available with --engine {engine}; drop it or use "
                "--engine memory"
            )
    else:
        # several files in memory go through weight_files: one step of a targets method
        if method.kind != "targets" or weighting.trim is not None:
            flag = f"--method {method.name}" if method.kind != "targets" else "--trim"
            raise DataError(f"{flag} with several input files: give one file, or weight with "
                            "--engine memory on one file")
    return method, opts


def _targets(weighting: Any) -> Any:
    from calib.core.targets import Targets

    if weighting.targets is None:
        raise DataError("--targets is missing; give the targets file")
    targets = Targets.read(weighting.targets, population=weighting.population)
    check_population(targets, weighting.population)
    return targets


def weight_command(
    input: Any,  # noqa: A002
    weighting: Any,
    *,
    out: Path,
    weight_column: str = "weight",
    overwrite: bool = False,
    engine: str = "auto",
    scheduler: str | None = None,
    as_json: bool = False,
    echo: Any = None,
    diagnostics_json: Path | None = None,
) -> dict[str, Any] | None:
    """Run ``calib weight`` out of core; None when the in-memory command should run.

    The diagnostics (weight summary, margins, ASMD) come from the engine's cell table
    (:meth:`calib.outofcore.filesample.FileSample.diagnostics`): printed, in the ``--json``
    payload and written to ``diagnostics_json``, as in memory.

    Examples
    --------
    >>> weight_command(__file__, None, out=Path("x.parquet"), engine="memory") is None
    True
    """
    if engine == "memory" and scheduler is None and _single_file(input):
        return None
    files = expand(input)
    choice = choose_engine(files, "dask" if scheduler and engine == "auto" else engine_name(engine))
    if choice.engine == "memory" and len(files) == 1:
        return None
    m, opts = _method_options(weighting, choice.engine)
    method = m.name
    opts.pop("population", None)
    from calib.cli.commands._io import check_out, dumps

    diagnostics_json = check_out(diagnostics_json, overwrite, "--diagnostics-json")
    r = weight_files(files, _targets(weighting), method, out=out, engine=choice.engine,
                     weight_column=weight_column, base_weight=weighting.base_weight,
                     overwrite=overwrite, scheduler=scheduler, **opts)
    close = getattr(r.sample, "close", None)
    if close is not None:  # a Dask client opened from --scheduler
        close()
    payload = {"input": [str(f) for f in files], "out": r.out, "engine": choice.engine,
               "engine_reason": choice.reason, "weighted_rows": r.rows,
               "dropped_rows": r.dropped, "steps": [r.step.summary()]}
    diag = r.sample.diagnostics()
    payload["diagnostics"] = diag.to_dict()
    if diagnostics_json is not None:
        diagnostics_json.write_text(dumps(payload) + "\n")
    if echo is not None:
        if as_json:
            echo(dumps(payload))
        else:
            echo(str(choice))
            echo(f"weighted {r.rows} rows ({method}); wrote {r.out}")
            if r.dropped:
                echo(f"note: {r.dropped} rows with missing weighting variables were left out "
                     "(--missing drop)")
            echo(str(diag))
    return payload


def estimate_command(
    input: Any,  # noqa: A002
    outcome: str,
    weighting: Any,
    *,
    out: Path,
    by: str | None = None,
    weight: str | None = None,
    level: float = 0.95,
    overwrite: bool = False,
    engine: str = "auto",
    scheduler: str | None = None,
    variance: str = "linearization",
    cluster: str | None = None,
    strata: str | None = None,
    as_json: bool = False,
    echo: Any = None,
) -> pd.DataFrame | None:
    """Run ``calib estimate`` out of core; None when the in-memory command should run.

    The table has the columns of the in-memory command (``outcome, level, by, domain,
    estimate, se, ci_low, ci_high, n, ess``; no ``deff`` out of core).
    """
    from calib.cli.commands._io import check_out, write_frame
    from calib.outofcore.filesample import FileSample

    if engine == "memory" and scheduler is None and _single_file(input):
        return None
    files = expand(input)
    choice = choose_engine(files, "dask" if scheduler and engine == "auto" else engine_name(engine))
    if choice.engine == "memory" and len(files) == 1:
        return None
    if choice.engine == "memory":
        raise DataError("several input files with --engine memory: give one file, or use "
                        "--engine duckdb")
    if variance != "linearization" or cluster or strata:
        raise DataError(
            f"--engine {choice.engine} estimates with --variance linearization for ids=~1 "
            "(no --cluster/--strata); use --engine memory for the others"
        )
    out = check_out(out, overwrite, inputs=[input, *files])
    with FileSample.from_files(files, weight=weight or weighting.base_weight,
                               engine=choice.engine, scheduler=scheduler) as fs0:
        fs = fs0
        if weighting.given:
            m, opts = _method_options(weighting, choice.engine)
            opts.pop("population", None)
            fs = fs.weight(m.name, _targets(weighting), **opts)
            _warn_dropped(fs, m.name)
        t = fs.estimate(outcome, by=by, level=level)
    table = pd.DataFrame({
        "outcome": outcome, "level": "", "by": by or "",
        "domain": t[by].astype(str) if by else "",
        **{c: t[c] for c in ("estimate", "se", "ci_low", "ci_high", "n", "ess")},
    })
    write_frame(table, out, overwrite)
    if echo is not None:
        if as_json:
            from calib.cli.commands._io import dumps, frame_records

            echo(dumps({"out": str(out), "engine": choice.engine, "variance": variance,
                        "estimates": frame_records(table)}))
        else:
            echo(str(choice))
            echo(f"{outcome}: {len(table)} estimates ({variance}); wrote {out}")
            echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return table


def _warn_dropped(fs: Any, method: str) -> None:
    """Count the rows ``--missing drop`` left out of an out-of-core weighting, as the
    in-memory path warns (never a silent drop)."""
    combos = fs.combos
    if combos is None or not (combos.cell < 0).any():
        return
    n = int(combos.frame.loc[combos.cell < 0, "__n"].sum())
    warnings.warn(f"{method}: {n} rows dropped for missing values in weighting variables "
                  f"({dict(combos.dropped)})", UserWarning, stacklevel=2)


__all__ = ["weight_command", "estimate_command", "unsupported"]
