"""``calib mrp``: multilevel regression and poststratification on cells (PyMC).

``calib mrp INPUT --outcome COL --frame FRAME --frame-count COL --group COL [--group COL ...]
[--fixed COL ...] [--interaction A:B ...] [--family binomial|categorical]
[--missing error|drop|level] [--gate raise|warn] [--centered auto|true|false]
[--two-level fixed|group] [--domain-predictors FILE] --by COL --out OUTPUT.csv
[--draws-out FILE] [--sampler pymc|nutpie] [--seed N] [--level 0.95] [--json]``

FRAME is a cell table whose columns carry the same names and levels as the model's columns; a
domain-predictor file has the domain column (e.g. state) and one column per predictor
(numeric -> a slope, categorical -> a varying intercept). Two-level ``--group`` variables are
fitted as fixed effects unless ``--two-level group``. OUTPUT has the columns of ``calib
estimate`` (estimate = posterior mean, se = posterior sd; one row per outcome level for
``--family categorical``); ``--draws-out`` writes long draws (``domain, draw, estimate``) that
``calib forecast`` reads. The diagnostics table is printed; a fit failing the gate (R-hat,
ESS, divergences) exits with code 3, or with ``--gate warn`` is written with a ``gate`` column
(``pass`` or ``fail: <checks>``).
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from calib import mrp
from calib.cli.commands._io import (
    CodebookOption,
    check_out,
    dumps,
    looks_numeric,
    read_frame,
    read_input,
    require_columns,
    to_numeric,
    write_frames,
)
from calib.cli.commands._mrp_options import GATES, MISSING, check_interactions, gate_status
from calib.cli.commands._outcome import numeric_outcome
from calib.core.errors import DataError
from calib.mrp.sampler import BACKENDS, Sampler

COLUMNS = ["outcome", "level", "by", "domain", "estimate", "se", "ci_low", "ci_high", "n"]
FAMILIES = ("binomial", "categorical")
CENTERED = {"auto": "auto", "true": True, "false": False}


@dataclass(frozen=True)
class MRPCommand:
    """What ``calib mrp`` reads and writes; the sampling settings are a
    :class:`calib.mrp.Sampler`.

    Attributes
    ----------
    input, outcome : the rows and their outcome column (0/1 for ``binomial``).
    frame, frame_count : the poststratification cells and their count column.
    groups : the varying-intercept terms; a two-level one is fitted as a fixed effect unless
        ``two_level="group"``.
    by, level : the domain column of FRAME and the level of the posterior intervals.
    out, draws_out : the estimates and (optional) long draws.
    domain_predictors : a file with one row per domain and one column per predictor.
    overwrite, codebook : replace existing outputs; recode INPUT first
        (:func:`._io.read_input`).
    fixed : fixed effects (text -> treatment coding, numbers -> a slope).
    interactions : ``"a:b"`` varying intercepts over joint levels.
    family : ``"binomial"`` or ``"categorical"`` (one row per domain and outcome level).
    missing : missing group/fixed/interaction values: ``"error"``, ``"drop"`` (rows dropped,
        counted) or ``"level"`` (a level ``Missing`` of their own); ``"level"`` does not apply
        to the outcome.
    gate : ``"raise"`` (a failing fit exits 3) or ``"warn"`` (estimates written with a
        ``gate`` column: ``pass`` or ``fail: <checks>``).
    two_level : ``"fixed"`` (default) or ``"group"``: how two-level ``groups`` are fitted.
    """

    input: Path
    outcome: str
    frame: Path
    frame_count: str
    groups: tuple[str, ...]
    by: str
    out: Path
    domain_predictors: Path | None = None
    draws_out: Path | None = None
    level: float = 0.95
    overwrite: bool = False
    codebook: str | Path | None = None
    fixed: tuple[str, ...] = ()
    interactions: tuple[str, ...] = ()
    family: str = "binomial"
    missing: str = "error"
    gate: str = "raise"
    two_level: str = "fixed"


#: The sampler of ``calib mrp`` without sampler options (nutpie; a progress bar on a terminal).
CLI_SAMPLER = Sampler(backend="nutpie", progress=None)


def _check_choices(cmd: MRPCommand) -> None:
    for flag, value, allowed in (("--family", cmd.family, FAMILIES),
                                 ("--missing", cmd.missing, MISSING),
                                 ("--gate", cmd.gate, GATES),
                                 ("--two-level", cmd.two_level, ("fixed", "group"))):
        if value not in allowed:
            raise DataError(f"{flag} {value!r}: use one of {list(allowed)}")
    check_interactions(cmd.interactions)


def terms(cmd: MRPCommand, rows: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """``(groups, fixed, moved)``: the group terms fitted as varying intercepts, the fixed
    effects, and the two-level group variables moved to the fixed effects.

    >>> c = MRPCommand(Path("x"), "y", Path("f"), "n", ("state", "male"), "state", Path("o"))
    >>> terms(c, pd.DataFrame({"state": ["TX", "OH", "CA"], "male": ["0.5", "-0.5", "0.5"]}))
    (['state'], ['male'], ['male'])
    """
    groups, fixed = list(cmd.groups), list(cmd.fixed)
    moved = []
    if cmd.two_level == "fixed":
        moved = [g for g in groups if g not in fixed and rows[g].dropna().nunique() == 2]
    return [g for g in groups if g not in moved], [*fixed, *moved], moved


def _prepare(cmd: MRPCommand, rows: pd.DataFrame, fixed: list[str]) -> pd.DataFrame:
    """Outcome and fixed columns typed; a missing outcome refused unless dropped."""
    if cmd.family == "binomial":
        # missing tokens (NA, refused) leave a 0/1 outcome numeric; "1,000" is named
        rows = numeric_outcome(rows, cmd.outcome)
    miss = int(rows[cmd.outcome].isna().sum())
    if miss and cmd.missing != "drop":
        extra = (" (--missing level applies to the group, fixed and interaction columns, not "
                 "to the outcome)" if cmd.missing == "level" else "")
        raise DataError(f"outcome {cmd.outcome!r} is missing in {miss} rows{extra}; pass "
                        "--missing drop to drop them (the count is printed)")
    if cmd.family == "binomial" and looks_numeric(rows[cmd.outcome]):
        rows[cmd.outcome] = rows[cmd.outcome].astype(float)
    for c in fixed:
        if cmd.missing == "level" and rows[c].isna().any() and looks_numeric(rows[c]):
            raise DataError(f"--missing level: numeric --fixed column {c!r} has "
                            f"{int(rows[c].isna().sum())} missing values and no level to put "
                            "them in; use --missing drop")
    for c in fixed:
        if looks_numeric(rows[c]):
            rows[c] = rows[c].astype(float)
    return rows


def _frame(cmd: MRPCommand, fixed: list[str]) -> pd.DataFrame:
    fr = read_frame(cmd.frame, "--frame")
    require_columns(fr, [cmd.frame_count, cmd.by], "FRAME (--frame-count/--by)")
    fr[cmd.frame_count] = to_numeric(fr, cmd.frame_count,
                                     f"--frame-count {cmd.frame_count} (write 1000, not 1,000)")
    for c in fixed:
        if c in fr.columns and looks_numeric(fr[c]):
            fr[c] = fr[c].astype(float)
    return fr


def _predictors(path: Path | None) -> pd.DataFrame | None:
    if path is None:
        return None
    dp = read_frame(path, "--domain-predictors")
    for c in dp.columns[1:]:
        if looks_numeric(dp[c]):
            dp[c] = dp[c].astype(float)
    return dp


def run(cmd: MRPCommand, sampler: Sampler = CLI_SAMPLER, *, echo: Any = None) -> Any:
    """Fit and poststratify; returns ``(fit, estimate)``. The fit's ``options`` gain
    ``two_level_fixed`` (the group variables fitted as fixed effects) and ``gate`` (pass or
    ``fail: <checks>``)."""

    _check_choices(cmd)
    inputs = [cmd.input, cmd.frame]
    check_out(cmd.out, cmd.overwrite, inputs=inputs)
    check_out(cmd.draws_out, cmd.overwrite, "--draws-out", inputs=[*inputs, cmd.out])
    if not 0 < cmd.level < 1:
        raise DataError(f"--level {cmd.level}: a probability strictly between 0 and 1, e.g. "
                        "0.95")
    rows = read_input(cmd.input, "INPUT", cmd.codebook, echo)
    parts = [p for it in cmd.interactions for p in it.split(":")]
    require_columns(rows, [cmd.outcome, *cmd.groups, *cmd.fixed, *parts],
                    "INPUT (--outcome/--group/--fixed/--interaction)")
    groups, fixed, moved = terms(cmd, rows)
    rows = _prepare(cmd, rows, fixed)
    fr = _frame(cmd, fixed)
    fit = mrp.fit(rows, cmd.outcome, group_effects=[*groups, *cmd.interactions],
                  fixed_effects=fixed, domain_predictors=_predictors(cmd.domain_predictors),
                  family=cmd.family, missing=cmd.missing,  # type: ignore[arg-type]
                  sampler=sampler, gate=cmd.gate)  # type: ignore[arg-type]
    # the fit is immutable: a copy carries what the command adds to its options
    fit = replace(fit, options={**fit.options, "two_level_fixed": moved,
                                "groups": [*groups, *cmd.interactions], "fixed": fixed,
                                "gate": gate_status(fit, cmd.gate)})
    est = mrp.poststratify(fit, fr, by=cmd.by, count=cmd.frame_count, level=cmd.level)
    table = est.table[[c for c in COLUMNS if c in est.table.columns]].copy()
    if cmd.gate == "warn":
        table["gate"] = fit.options["gate"]
    draws = None
    if cmd.draws_out is not None:
        cols = ["level", "domain", "draw", "estimate"] if cmd.family == "categorical" else [
            "domain", "draw", "estimate"]
        draws = est.draws[cols]
    write_frames([(table, cmd.out), (draws, cmd.draws_out)], cmd.overwrite)
    return fit, est


def fit_lines(fit: Any) -> list[str]:
    """The fit summary lines printed after the posterior table."""
    o = fit.options
    lines = []
    if o.get("two_level_fixed"):
        lines.append("two-level group variables fitted as fixed effects: "
                     + ", ".join(o["two_level_fixed"]) + " (--two-level group to keep them "
                     "varying intercepts)")
    if o.get("dropped"):
        lines.append("rows dropped for missing values: "
                     + ", ".join(f"{k} {v}" for k, v in o["dropped"].items()))
    lines.append(f"gate: {o.get('gate', 'pass')} (max R-hat "
                 f"{float(fit.diagnostics['r_hat'].max()):.4f}, divergences "
                 f"{o.get('divergences', 0)}, target_accept {o.get('target_accept')})")
    return lines


def summary_json(fit: Any, est: Any, cmd: MRPCommand) -> str:
    """The ``--json`` document of ``calib mrp``."""
    table = est.table[[c for c in COLUMNS if c in est.table.columns]]
    return dumps({
        "out": str(cmd.out), "draws_out": str(cmd.draws_out) if cmd.draws_out else None,
        "gate": fit.options["gate"], "family": cmd.family,
        "groups": fit.options["groups"], "fixed": fit.options["fixed"],
        "two_level_fixed": fit.options["two_level_fixed"],
        "dropped": fit.options.get("dropped", {}),
        "max_rhat": float(fit.diagnostics["r_hat"].max()),
        "min_ess_bulk": float(fit.diagnostics["ess_bulk"].min()),
        "divergences": int(fit.options.get("divergences", 0)),
        "target_accept": fit.options.get("target_accept"),
        "retried": fit.options.get("retried"),
        "estimates": table,
    })


def register(app: typer.Typer) -> None:
    """Register ``calib mrp``."""

    @app.command("mrp")
    def mrp_cmd(
        input: Annotated[Path, typer.Argument(  # noqa: A002
            help="rows (personas or respondents), CSV or Parquet")],
        outcome: Annotated[str, typer.Option(
            "--outcome", help="0/1 outcome column (e.g. vote_dem)")],
        frame: Annotated[Path, typer.Option(
            "--frame", help="poststratification cells: the --group columns (same names and "
            "levels) and a count column")],
        frame_count: Annotated[str, typer.Option(
            "--frame-count", help="count column of FRAME (population per cell)")],
        group: Annotated[list[str], typer.Option(
            "--group", help="a varying (sum-to-zero) intercept; repeat for each term")],
        by: Annotated[str, typer.Option(
            "--by", help="domain column of FRAME for the estimates (a Total row is added)")],
        out: Annotated[Path, typer.Option(
            "--out", help="estimates with the columns of calib estimate (CSV or Parquet)")],
        domain_predictors: Annotated[Path | None, typer.Option(
            "--domain-predictors", help="one row per domain (first column, e.g. state) and "
            "one column per predictor: numeric -> a slope, text -> a varying intercept")] = None,
        draws_out: Annotated[Path | None, typer.Option(
            "--draws-out", help="long posterior draws (domain, draw, estimate) for calib "
            "forecast")] = None,
        sampler: Annotated[str, typer.Option(
            "--sampler", help="nutpie (fast, numba-compiled) or pymc (PyMC's own NUTS)")
            ] = "nutpie",
        seed: Annotated[int | None, typer.Option("--seed", help="random seed")] = None,
        level: Annotated[float, typer.Option(
            "--level", help="level of the central posterior intervals")] = 0.95,
        draws: Annotated[int, typer.Option("--draws", help="draws per chain")] = 1000,
        tune: Annotated[int, typer.Option("--tune", help="tuning draws per chain")] = 1000,
        chains: Annotated[int, typer.Option("--chains", help="chains (run in parallel)")] = 4,
        target_accept: Annotated[float | None, typer.Option(
            "--target-accept", help="NUTS target acceptance (default: 0.8, retried once at "
            "0.95 when the first run diverges)")] = None,
        fixed: Annotated[list[str] | None, typer.Option(
            "--fixed", help="a fixed effect: a text column -> treatment coding (first level "
            "the reference), a numeric one -> a slope; repeatable")] = None,
        interaction: Annotated[list[str] | None, typer.Option(
            "--interaction", help="A:B, a varying intercept over the joint levels of A and B; "
            "repeatable")] = None,
        family: Annotated[str, typer.Option(
            "--family", help="binomial (a 0/1 outcome) or categorical (several candidates or "
            "an ordinal opinion: one output row per domain and outcome level)")] = "binomial",
        missing: Annotated[str, typer.Option(
            "--missing", help="missing values: error (default), drop (rows dropped, counted), "
            "level (group/fixed/interaction values get a level 'Missing'; not the outcome)")
            ] = "error",
        gate: Annotated[str, typer.Option(
            "--gate", help="raise (a fit failing the diagnostics gate exits 3) or warn "
            "(estimates written with a gate column: pass or 'fail: <checks>'; exit 0)")
            ] = "raise",
        centered: Annotated[str, typer.Option(
            "--centered", help="parametrization of the varying intercepts: auto (per term "
            "from the rows per level), true (centred) or false (non-centred)")] = "auto",
        two_level: Annotated[str, typer.Option(
            "--two-level", help="two-level --group variables (e.g. sex): fixed (default; a "
            "fixed effect, as a varying intercept over 2 levels is barely identified) or "
            "group")] = "fixed",
        codebook: CodebookOption = None,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace existing output files")] = False,
        as_json: Annotated[bool, typer.Option(
            "--json", help="print the run (gate, diagnostics, estimates) as JSON")] = False,
    ) -> None:
        """Fit a multilevel logistic (or categorical) model on the cells of INPUT
        (sum-to-zero varying intercepts for --group and --interaction, fixed effects for
        --fixed and for two-level --group variables; centred or non-centred per term from
        the data), check the diagnostics gate (R-hat <= 1.01, bulk and tail ESS >= 400, no
        divergences: exit 3 when it fails, or a warning and a gate column with --gate warn)
        and poststratify over FRAME by --by. A progress bar shows while sampling; the
        posterior summary prints at the end."""
        if sampler not in BACKENDS:
            raise DataError(f"--sampler {sampler!r}: use nutpie or pymc")
        if centered.lower() not in CENTERED:
            raise DataError(f"--centered {centered!r}: use auto, true or false")
        for flag, value, low in (("--draws", draws, 1), ("--tune", tune, 0),
                                 ("--chains", chains, 1)):
            if value < low:
                raise DataError(f"{flag} {value}: give a whole number >= {low}")
        cmd = MRPCommand(input, outcome, frame, frame_count, tuple(group), by, out,
                         domain_predictors=domain_predictors, draws_out=draws_out, level=level,
                         overwrite=overwrite, codebook=codebook, fixed=tuple(fixed or ()),
                         interactions=tuple(interaction or ()), family=family,
                         missing=missing, gate=gate, two_level=two_level)
        settings = Sampler(draws=draws, tune=tune, chains=chains, backend=sampler,  # type: ignore[arg-type]
                           seed=seed, target_accept=target_accept, progress=None,
                           centered=CENTERED[centered.lower()])  # type: ignore[arg-type]
        echo = (lambda text: typer.echo(text, err=True)) if as_json else typer.echo
        fit, est = run(cmd, settings, echo=echo)
        if as_json:
            typer.echo(summary_json(fit, est, cmd))
            return
        typer.echo(fit.summary().to_string())
        for line in fit_lines(fit):
            typer.echo(line)
        typer.echo(f"wrote {out}" + (f" and {draws_out}" if draws_out else ""))


__all__ = ["MRPCommand", "run", "register", "terms", "gate_status", "CLI_SAMPLER"]
