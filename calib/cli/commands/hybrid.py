"""``calib hybrid``: persona answers + a small human sample -> bias-corrected estimates.

``calib hybrid PERSONAS --human HUMAN --outcome COL [--human-outcome COL] [--by COL]
[--domains CA,TX,...] [--targets TARGETS] --method ppi|small-area|mrp|partisan
[--min-human 20] [--group COL ...] [--frame FRAME --frame-count COL] [--fixed COL ...]
[--interaction A:B ...] [--gate raise|warn] [--human-weight COL] [--level 0.95] [--seed N]
--out OUTPUT.csv``

``--outcome`` is the LLM answer column (in PERSONAS and, per human, in HUMAN);
``--human-outcome`` the human's real answer in HUMAN (default: ``--outcome``, then the
predictions are the weighted persona means of each human's cell). ``--targets`` (long targets
file) weights the personas by raking first (``partisan``: demographic + political margins in
one file). The output has the columns of ``calib estimate`` plus ``n_human``,
``n_effective_human``, ``lambda`` (empty where a domain has no humans) and, except for
``partisan``, ``estimator`` (``direct``, ``composite`` or ``synthetic``); ``small-area`` adds
``weight_direct`` and ``var_between``.

By domain (``--by``): ``ppi`` is the direct per-domain PPI++ and refuses (exit 2) domains
with fewer than ``--min-human`` humans (default :data:`MIN_HUMAN`), naming them;
``small-area`` (:func:`calib.hybrid.small_area`, ``--group`` = domain-level fixed effects of
the rectifier model, e.g. region) and ``mrp`` (:func:`calib.hybrid.joint_mrp`; ``--frame``,
``--frame-count``, ``--group``, ``--fixed``, ``--interaction``, ``--missing``, ``--gate`` as in
``calib mrp``) give every domain of PERSONAS (or of ``--domains``) a row, 0 or 1 human
included.

Examples
--------
>>> import inspect
>>> list(inspect.signature(run).parameters)[:3]
['personas', 'human', 'outcome']
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from calib.cli.commands._io import (
    CODEBOOK_HELP,
    check_out,
    dumps,
    looks_numeric,
    read_frame,
    read_input,
    require_columns,
    write_frame,
)
from calib.cli.commands._mrp_options import (
    GATES,
    check_choice,
    check_interactions,
    fill_missing_level,
    gate_status,
)
from calib.core.cells import format_level, missing_mask
from calib.core.errors import DataError
from calib.core.sample import Sample
from calib.core.targets import Targets
from calib.data.readers import read_personas
from calib.data.variables import LEVELS

METHODS = ("ppi", "small-area", "mrp", "partisan")
MISSING = ("error", "drop", "level")

#: ``--min-human``: fewest humans per domain ``--method ppi`` (direct) accepts.
MIN_HUMAN = 20

#: Humans per domain below which docs/validation.md shows the method's 95% state intervals
#: under nominal (the CLI warns for those domains). Per-state PPI with the small-n corrections
#: is at nominal or conservative from 2 humans (99.0% at 2-5, 95.7% at 6-10, 95.1% at 11-20);
#: small-area covers 96.7% +- 0.33 over all states, those with 0 or 1 human included; no
#: state-level figure below nominal is documented for the joint MRP.
UNDER_NOMINAL_BELOW: dict[str, int] = {"ppi": 2, "small-area": 0, "mrp": 0}


@dataclass(frozen=True)
class DomainOptions:
    """The by-domain options of ``calib hybrid``.

    Attributes
    ----------
    domains : the domains to report (default: every domain of PERSONAS).
    min_human : fewest humans per domain for ``--method ppi``.
    groups : ``small-area``: domain-level fixed effects of the rectifier model (e.g. region);
        ``mrp``: the varying intercepts (cell variables, e.g. state, age6).
    frame, frame_count : ``mrp``: the poststratification cells and their count column
        (default: calib's built-in CVAP frame and cells).
    fixed, interactions, gate : ``mrp``: as ``calib mrp --fixed / --interaction / --gate``.
    """

    domains: tuple[str, ...] | None = None
    min_human: int = MIN_HUMAN
    groups: tuple[str, ...] = ()
    frame: Path | None = None
    frame_count: str = "n"
    fixed: tuple[str, ...] = ()
    interactions: tuple[str, ...] = ()
    gate: str = "raise"


def parse_domains(values: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``--domains`` values, comma-separated and/or repeated, in order without repeats.

    >>> parse_domains(["CA,TX", "ny", "CA"])
    ('CA', 'TX', 'ny')
    >>> parse_domains(None) is None
    True
    """
    if not values:
        return None
    out = [p.strip() for v in values for p in str(v).split(",") if p.strip()]
    return tuple(dict.fromkeys(out)) or None


def drop_missing(frame: pd.DataFrame, columns: list[str | None], what: str,
                 dropped: dict[str, int]) -> pd.DataFrame:
    """``frame`` without the rows missing a value in ``columns`` (NA or a missing token such as
    ``NA`` / ``refused``); the count goes to ``dropped[what]``.

    >>> d = {}
    >>> len(drop_missing(pd.DataFrame({"a": ["1", None, "NA"]}), ["a", None], "X", d)), d
    (1, {'X': 2})
    """
    cols = [c for c in dict.fromkeys(columns) if c is not None and c in frame.columns]
    bad = pd.Series(False, index=frame.index)
    for c in cols:
        bad |= missing_mask(frame[c])
    dropped[what] = int(bad.sum())
    return frame.loc[~bad].reset_index(drop=True)


def _dropped(pframe: pd.DataFrame, hframe: pd.DataFrame, pcols: list[str | None],
             hcols: list[str | None], tg: Targets | None, model_vars: list[str],
             dropped: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PERSONAS and HUMAN without the rows missing a value the method uses: the given
    columns, the targets' variables (personas) and, for the joint MRP, its cell variables."""
    tvars = [v for v in (tg.variables if tg is not None else ()) if v in pframe.columns]
    return (drop_missing(pframe, [*pcols, *tvars, *model_vars], "PERSONAS", dropped),
            drop_missing(hframe, [*hcols, *model_vars], "HUMAN", dropped))


def _read(path: str | Path, codebook: str | Path | None = None, what: str = "PERSONAS",
          note: Any = None) -> pd.DataFrame:
    if codebook is not None:
        return read_input(path, what, codebook, note)
    return read_personas(path)


def report_domains(pframe: pd.DataFrame, by: str, domains: tuple[str, ...] | None,
                   extra: set[str] | None = None) -> list[str]:
    """The domains that get a row: ``domains`` (each must be a domain of PERSONAS, or of
    ``extra``) or every domain of PERSONAS (category order, else sorted)."""
    col = pframe[by].dropna()
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.map(format_level).astype(str))
        every = [c for c in (format_level(x) for x in col.cat.categories) if c in present]
    else:
        every = sorted(set(col.map(format_level).astype(str)))
    if domains is None:
        return every
    unknown = [d for d in domains if d not in every and d not in (extra or set())]
    if unknown:
        raise DataError(f"--domains {unknown} are not domains of PERSONAS' {by!r} (it has "
                        f"{every[:10]}{' ...' if len(every) > 10 else ''}); drop them or add "
                        "personas there")
    return list(domains)


def human_counts(hframe: pd.DataFrame, by: str, doms: list[str]) -> pd.Series:
    """Humans per domain of ``doms`` (0 where a domain has none).

    >>> human_counts(pd.DataFrame({"s": ["a", "a", "c"]}), "s", ["a", "b"]).tolist()
    [2, 0]
    """
    counts = hframe[by].dropna().map(format_level).astype(str).value_counts()
    return counts.reindex(doms, fill_value=0).astype(int)


def check_min_human(counts: pd.Series, min_human: int, by: str) -> None:
    """``--method ppi`` is direct only: refuse (exit 2) domains with fewer than ``min_human``
    humans (2 at least), naming them and their counts."""
    floor = max(int(min_human), 2)
    few = counts[counts < floor]
    if len(few):
        listed = ", ".join(f"{d} ({n})" for d, n in few.items())
        raise DataError(f"--method ppi is the direct per-domain estimate and needs >= {floor} "
                        f"humans in every {by!r} domain (--min-human {min_human}); "
                        f"{len(few)} have fewer: {listed}. Use --method small-area (every "
                        "domain gets a row, borrowing strength across domains), --method mrp, "
                        "a coarser --by, or lower --min-human")


def under_nominal(counts: pd.Series, method: str) -> list[str]:
    """Warnings for domains whose human count is below the n where docs/validation.md shows
    the method's intervals under nominal (:data:`UNDER_NOMINAL_BELOW`)."""
    low = UNDER_NOMINAL_BELOW.get(method, 0)
    few = counts[counts < low]
    if not len(few):
        return []
    return [f"warning: {len(few)} domains have fewer than {low} humans, where "
            f"docs/validation.md shows --method {method}'s intervals under nominal: "
            + ", ".join(f"{d} ({n})" for d, n in few.items())]


def _restrict(table: pd.DataFrame, doms: list[str] | None, keep_total: bool = True
              ) -> pd.DataFrame:
    """The rows of ``doms`` in that order (plus the Total row), or the table as it is."""
    if doms is None:
        return table
    from calib.hybrid.ppi import TOTAL

    table = table.copy()
    table.attrs = {}  # concat compares attrs (a fit's arrays): the caller sets its own
    key = table["domain"].astype(str)
    rows = [table[key == d] for d in doms]
    if keep_total:
        rows.append(table[key == TOTAL])
    return pd.concat(rows, ignore_index=True)


def _ppi(sample: Sample, hframe: pd.DataFrame, outcome: str, human_outcome: str,
         setup: dict[str, Any]) -> pd.DataFrame:
    from calib.hybrid import ppi, ppi_mean

    fn = ppi if not pd.api.types.is_numeric_dtype(hframe[human_outcome]) else ppi_mean
    return fn(sample, hframe, outcome, human_outcome, human_weight=setup["human_weight"],
              prediction=setup["prediction"], cells=setup["cells"], by=setup["by"],
              level=setup["level"])


def _small_area(sample: Sample, hframe: pd.DataFrame, outcome: str, human_outcome: str,
                setup: dict[str, Any]) -> pd.DataFrame:
    from calib.hybrid import small_area

    if setup["by"] is None:
        raise DataError("--method small-area estimates domains: give --by (e.g. state)")
    opts: DomainOptions = setup["options"]
    return small_area(sample, hframe, outcome, human_outcome, setup["by"],
                      groups=opts.groups, domains=setup["domains"], level=setup["level"],
                      human_weight=setup["human_weight"], prediction=setup["prediction"],
                      cells=setup["cells"])


def mrp_terms(opts: DomainOptions) -> tuple[list[str], list[str]]:
    """``(cells, variables)`` of ``--method mrp``: the varying intercepts (``--group`` and
    ``--interaction``; calib's default cells without ``--group``) and the columns they and
    ``--fixed`` name."""
    from calib.hybrid.joint_mrp import DEFAULT_CELLS, term_variables

    cells = [*(opts.groups or DEFAULT_CELLS), *opts.interactions]
    return cells, term_variables([*cells, *opts.fixed])


def _mrp_frame(opts: DomainOptions, by: str | None) -> pd.DataFrame:
    if opts.frame is None:
        from calib.data.datasets import poststrat_frame

        return poststrat_frame()
    fr = read_frame(opts.frame, "--frame")
    require_columns(fr, [opts.frame_count, by], "FRAME (--frame-count/--by)")
    fr[opts.frame_count] = fr[opts.frame_count].astype(float)
    for c in opts.fixed:
        if c in fr.columns and looks_numeric(fr[c]):
            fr[c] = fr[c].astype(float)
    return fr


def _mrp(pframe: pd.DataFrame, hframe: pd.DataFrame, outcome: str, human_outcome: str,
         setup: dict[str, Any]) -> pd.DataFrame:
    from calib.hybrid import joint_mrp
    from calib.hybrid.joint_mrp import JOINT_SAMPLER

    opts: DomainOptions = setup["options"]
    if opts.frame is not None and not opts.groups:
        raise DataError("--method mrp with --frame needs --group: the cell variables of the "
                        "model (columns of PERSONAS, HUMAN and FRAME, e.g. --group state "
                        "--group age6)")
    frame = _mrp_frame(opts, setup["by"])
    cells, _ = mrp_terms(opts)
    count = opts.frame_count if opts.frame is not None else "n"
    table = joint_mrp(pframe, hframe, outcome, human_outcome, frame, by=setup["by"],
                      count=count, human_weight=setup["human_weight"], level=setup["level"],
                      cells=cells, fixed=list(opts.fixed), gate=opts.gate,
                      sampler=replace(JOINT_SAMPLER, seed=setup["seed"]))
    doms = setup["domains"]
    if doms is not None:
        absent = [d for d in doms if d not in set(table["domain"].astype(str))]
        if absent:
            raise DataError(f"--method mrp: domains {absent[:10]} are not in the frame's "
                            f"{setup['by']!r}; add their cells to --frame")
    fit = table.attrs.get("fit")
    table = _restrict(table, doms)
    if opts.gate == "warn" and fit is not None:
        table["gate"] = gate_status(fit, opts.gate)
    table.attrs["fit"] = fit
    return table


def _estimator(table: pd.DataFrame, method: str) -> pd.DataFrame:
    """The ``estimator`` column (``direct`` for ppi; ``composite`` / ``synthetic`` for mrp
    by whether the domain has humans) and ``lambda`` empty where there are no humans."""
    if method == "ppi":
        table["estimator"] = "direct"
    elif method == "mrp":
        table["estimator"] = ["composite" if n > 0 else "synthetic"
                              for n in table["n_human"].fillna(0)]
    table["lambda"] = table["lambda"].where(table["n_human"].fillna(0) > 0, pd.NA)
    return table


def _prepare_rows(pframe: pd.DataFrame, hframe: pd.DataFrame, method: str,
                  setup: dict[str, Any], dropped: dict[str, int]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``--missing``: rows dropped (``drop``) or a level ``Missing`` (``level``, mrp only)."""
    missing, opts = setup["missing"], setup["options"]
    model_vars: list[str] = []
    if method == "mrp":
        model_vars = [v for v in mrp_terms(opts)[1] if v in pframe.columns]
    if missing == "level":
        if method != "mrp":
            raise DataError("--missing level applies to --method mrp (a level 'Missing' of "
                            "its cell variables); use --missing drop")
        num = [c for c in opts.fixed if c in pframe.columns and looks_numeric(pframe[c])]
        cols = [v for v in model_vars if v not in num]
        return fill_missing_level(pframe, cols), fill_missing_level(hframe, cols)
    if missing == "drop":
        return _dropped(pframe, hframe, [setup["outcome"], setup["by"], *(setup["cells"] or [])],
                        [setup["outcome"], setup["human_outcome"], setup["human_weight"],
                         setup["by"], *(setup["cells"] or [])],
                        setup["targets"], model_vars, dropped)
    return pframe, hframe


def _check(method: str, missing: str, pframe: pd.DataFrame, hframe: pd.DataFrame,
           cols: dict[str, str | None], opts: DomainOptions) -> None:
    check_choice("--method", method, METHODS)
    check_choice("--missing", missing, MISSING)
    check_choice("--gate", opts.gate, GATES)
    check_interactions(opts.interactions)
    for what, col in cols.items():
        frames = [pframe, hframe] if what == "--outcome" else (
            [pframe] if what == "--by" else [hframe])
        for frame in frames:
            if col is not None and col not in frame.columns:
                where = "PERSONAS" if frame is pframe else "HUMAN"
                raise DataError(f"{what} {col!r} is not a column of {where} "
                                f"({list(frame.columns)[:12]})")


def _predictions(pframe: pd.DataFrame, hframe: pd.DataFrame, outcome: str,
                 human_outcome: str | None, method: str
                 ) -> tuple[str, str, list[str] | None]:
    """``(human_outcome, prediction, cells)``: without ``--human-outcome`` the humans' answers
    are in ``--outcome`` and the predictions persona cell means (the joint MRP needs none)."""
    if human_outcome is not None:
        return human_outcome, "llm", None
    if method == "mrp":
        return outcome, "llm", None
    cells = [v for v in LEVELS if v in pframe.columns and v in hframe.columns and v != outcome]
    if not cells:
        raise DataError("--human-outcome not given, so predictions are persona cell means, "
                        "but PERSONAS and HUMAN share no harmonized cell variable; add "
                        "--human-outcome with the LLM answer for each human in --outcome")
    return outcome, "cell", cells


def _domain_setup(pframe: pd.DataFrame, hframe: pd.DataFrame, method: str, by: str | None,
                  opts: DomainOptions) -> tuple[list[str] | None, list[str]]:
    """``(domains, warnings)``: the domains that get a row (None: the method's own) after the
    ``--min-human`` check of ``ppi``, and the below-documented-n warnings."""
    if by is None or method == "partisan":
        return None, []
    extra = None
    if method == "mrp" and opts.frame is not None:
        extra = set(_mrp_frame(opts, by)[by].map(format_level).astype(str))
    doms = report_domains(pframe, by, opts.domains, extra)
    counts = human_counts(hframe, by, doms)
    if method == "ppi":
        check_min_human(counts, opts.min_human, by)
    return doms, under_nominal(counts, method)


def run(
    personas: str | Path,
    human: str | Path,
    outcome: str,
    out: str | Path,
    *,
    human_outcome: str | None = None,
    by: str | None = None,
    targets: str | Path | None = None,
    method: str = "ppi",
    human_weight: str | None = None,
    level: float = 0.95,
    seed: int | None = None,
    overwrite: bool = False,
    codebook: str | Path | None = None,
    human_codebook: str | Path | None = None,
    echo: Any = None,
    missing: str = "error",
    options: DomainOptions | None = None,
) -> pd.DataFrame:
    """Implement ``calib hybrid``; writes ``out`` and returns the table. ``codebook`` /
    ``human_codebook`` recode PERSONAS / HUMAN first (:func:`._io.read_input`). ``missing``:
    ``"error"`` (the methods refuse missing values, naming the column), ``"drop"`` (rows
    of PERSONAS / HUMAN missing a value the method uses are dropped; the counts are in
    ``table.attrs["dropped"]`` and printed) or ``"level"`` (mrp: a level ``Missing``).
    ``options``: the by-domain options (:class:`DomainOptions`). Warnings (domains below the
    documented n) are in ``table.attrs["warnings"]`` and printed."""
    opts = options or DomainOptions()
    out = check_out(Path(out), overwrite, inputs=[personas, human])
    pframe = _read(personas, codebook, "PERSONAS", echo)
    hframe = _read(human, human_codebook, "--human", echo)
    _check(method, missing, pframe, hframe,
           {"--outcome": outcome, "--human-outcome": human_outcome,
            "--human-weight": human_weight, "--by": by}, opts)
    if by is not None and by not in hframe.columns:
        raise DataError(f"--by {by!r} is not a column of HUMAN ({list(hframe.columns)[:12]})")
    tg = Targets.read(targets) if targets is not None else None
    if opts.domains is not None and (by is None or method == "partisan"):
        raise DataError("--domains names domains of --by: give --by (e.g. state) with --method "
                        "ppi, small-area or mrp")
    human_outcome, prediction, cells = _predictions(pframe, hframe, outcome, human_outcome,
                                                    method)
    setup = {"by": by, "level": level, "human_weight": human_weight, "prediction": prediction,
             "cells": cells, "options": opts, "seed": seed, "missing": missing,
             "outcome": outcome, "human_outcome": human_outcome, "targets": tg}
    dropped: dict[str, int] = {}
    pframe, hframe = _prepare_rows(pframe, hframe, method, setup, dropped)
    setup["domains"], warnings = _domain_setup(pframe, hframe, method, by, opts)
    sample = Sample(pframe)
    if tg is not None:
        sample = sample.rake(tg)
    if method == "mrp":
        table = _mrp(pframe, hframe, outcome, human_outcome, setup)
    elif method == "small-area":
        table = _small_area(sample, hframe, outcome, human_outcome, setup)
    else:
        # partisan: the targets (demographic + political margins) did the weighting above
        if method == "partisan" and targets is None:
            raise DataError("--method partisan needs --targets with demographic and political "
                            "(pid3 / recalled vote) margins")
        if method == "ppi" and opts.domains is not None:
            # only the listed domains' humans; their Total would not be the population's
            keep = hframe[by].map(format_level).astype(str).isin(setup["domains"] or [])
            hframe = hframe.loc[keep.to_numpy()].reset_index(drop=True)
        table = _ppi(sample, hframe, outcome, human_outcome, setup)
        if method == "ppi":
            table = _restrict(table, setup["domains"], keep_total=opts.domains is None)
    if method != "partisan":
        table = _estimator(table, method)
    write_frame(table, out, overwrite)
    table.attrs["dropped"] = dropped
    table.attrs["warnings"] = warnings
    _echo_table(echo, table, outcome, method, out)
    return table


def fit_summary(fit: Any, gate: str = "raise") -> dict[str, Any]:
    """The MRP fit's diagnostics for ``--json`` (as ``calib mrp --json``); empty without a
    fit.

    >>> fit_summary(None)
    {}
    """
    if fit is None:
        return {}
    d = fit.diagnostics
    return {"gate": gate_status(fit, gate), "max_rhat": float(d["r_hat"].max()),
            "min_ess_bulk": float(d["ess_bulk"].min()),
            "divergences": int(fit.options.get("divergences", 0))}


def _echo_table(echo: Any, table: pd.DataFrame, outcome: str, method: str, out: Path) -> None:
    if echo is None:
        return
    if table.attrs.get("dropped"):
        echo("rows dropped for missing values: "
             + ", ".join(f"{k} {v}" for k, v in table.attrs["dropped"].items()))
    for line in table.attrs.get("warnings", []):
        echo(line)
    fs = fit_summary(table.attrs.get("fit"))
    if fs:
        echo(f"gate: {fs['gate']} (max R-hat {fs['max_rhat']:.4f}, divergences "
             f"{fs['divergences']})")
    echo(f"{outcome}: {len(table)} estimates ({method}); wrote {out}")
    echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def register(app) -> None:
    """Register ``hybrid`` on a Typer app (the ``calib`` CLI)."""
    @app.command("hybrid")
    def hybrid(  # noqa: B008 - typer idiom
        personas: Path = typer.Argument(..., help="persona file (CSV/Parquet/JSONL)"),  # noqa: B008
        human: Path = typer.Option(..., "--human", help="human sample file: each human's real "  # noqa: B008
                                   "answer and, per human, the LLM's answer for their attributes"),
        outcome: str = typer.Option(..., "--outcome", help="LLM answer column (PERSONAS and "  # noqa: B008
                                    "HUMAN)"),
        out: Path = typer.Option(..., "--out", help="output table (CSV or Parquet)"),  # noqa: B008
        human_outcome: str | None = typer.Option(  # noqa: B008
            None, "--human-outcome", help="the human's real answer in HUMAN (default: "
            "--outcome, with persona cell means as the predictions)"),
        by: str | None = typer.Option(None, "--by", help="domain column (e.g. state)"),  # noqa: B008
        targets: Path | None = typer.Option(  # noqa: B008
            None, "--targets", help="long targets file: the personas are raked to it first "
            "(partisan: demographic and political margins)"),
        method: str = typer.Option("ppi", "--method", help="ppi (direct PPI++ per domain; "  # noqa: B008
                                   "refuses domains under --min-human) | small-area "
                                   "(Fay-Herriot composite: a row for every domain) | mrp "
                                   "(joint persona-human model) | partisan"),
        domains: list[str] | None = typer.Option(  # noqa: B008
            None, "--domains", help="domains to report, comma-separated or repeated (e.g. "
            "CA,TX); default: every domain of PERSONAS"),
        min_human: int = typer.Option(  # noqa: B008
            MIN_HUMAN, "--min-human", help="ppi: fewest humans per domain (default 20); "
            "fewer exits 2 naming the domains"),
        group: list[str] | None = typer.Option(  # noqa: B008
            None, "--group", help="small-area: a domain-level fixed effect of the rectifier "
            "model (e.g. region); mrp: a varying intercept (cell variable); repeatable"),
        frame: Path | None = typer.Option(  # noqa: B008
            None, "--frame", help="mrp: poststratification cells (the --group columns and a "
            "count column); default: calib's CVAP frame"),
        frame_count: str = typer.Option("n", "--frame-count", help="mrp: count column of "  # noqa: B008
                                        "FRAME"),
        fixed: list[str] | None = typer.Option(  # noqa: B008
            None, "--fixed", help="mrp: a fixed effect (text -> treatment coding, numeric -> "
            "a slope); repeatable"),
        interaction: list[str] | None = typer.Option(  # noqa: B008
            None, "--interaction", help="mrp: A:B, a varying intercept over joint levels; "
            "repeatable"),
        gate: str = typer.Option(  # noqa: B008
            "raise", "--gate", help="mrp: raise (a fit failing the diagnostics gate exits 3) "
            "or warn (a gate column)"),
        human_weight: str | None = typer.Option(  # noqa: B008
            None, "--human-weight", help="design weight column of HUMAN"),
        level: float = typer.Option(0.95, "--level", help="confidence level"),  # noqa: B008
        seed: int | None = typer.Option(None, "--seed", help="random seed (mrp)"),  # noqa: B008
        codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),  # noqa: B008
        human_codebook: str | None = typer.Option(  # noqa: B008
            None, "--human-codebook", help="codebook for HUMAN (TOML file or built-in name, "
            "e.g. anes2020)"),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing --out"),  # noqa: B008
        missing: str = typer.Option(  # noqa: B008
            "error", "--missing", help="missing values in the columns used: error (default), "
            "drop (rows of PERSONAS and HUMAN dropped, the counts printed) or level (mrp: a "
            "level 'Missing' of the cell variables)"),
        as_json: bool = typer.Option(False, "--json", help="print the run as JSON"),  # noqa: B008
    ) -> None:
        """Correct persona answers with a small human sample: PPI++ (prediction-powered
        inference, the humans rectify the persona estimate; direct per domain), a small-area
        (Fay-Herriot) composite, a joint persona-human MRP with one persona-bias term, or
        partisan calibration. The output has the columns of `calib estimate` plus n_human,
        n_effective_human, lambda and estimator.

        With --by, small-area (each domain's rectified estimate shrunk toward a model of the
        rectifier across domains) and mrp give every domain a row (0 or 1 human included);
        ppi refuses domains under --min-human. small-area adds weight_direct and
        var_between."""
        echo = (lambda text: typer.echo(text, err=True)) if as_json else typer.echo
        table = run(personas, human, outcome, out, human_outcome=human_outcome, by=by,
                    targets=targets, method=method, human_weight=human_weight, level=level,
                    seed=seed, overwrite=overwrite, codebook=codebook,
                    human_codebook=human_codebook, echo=None if as_json else echo,
                    missing=missing,
                    options=DomainOptions(parse_domains(domains), min_human, tuple(group or ()),
                                          frame, frame_count, tuple(fixed or ()),
                                          tuple(interaction or ()), gate))
        if as_json:
            typer.echo(dumps({"out": str(out), "method": method, "outcome": outcome,
                              "dropped": table.attrs.get("dropped", {}),
                              "warnings": table.attrs.get("warnings", []),
                              **fit_summary(table.attrs.get("fit"), gate),
                              "estimates": table}))


__all__ = ["run", "register", "METHODS", "MIN_HUMAN", "DomainOptions", "parse_domains",
           "human_counts", "report_domains", "UNDER_NOMINAL_BELOW"]
