"""``calib hybrid``: persona answers + a small human sample -> bias-corrected estimates.

``calib hybrid PERSONAS --human HUMAN --outcome COL [--human-outcome COL] [--by COL]
[--targets TARGETS] --method ppi|mrp|partisan [--human-weight COL] [--level 0.95] [--seed N]
--out OUTPUT.csv``

``--outcome`` is the LLM answer column (in PERSONAS and, per human, in HUMAN);
``--human-outcome`` the human's real answer in HUMAN (default: ``--outcome``, then the
predictions are the weighted persona means of each human's cell). ``--targets`` (long targets
file) weights the personas by raking first (``partisan``: demographic + political margins in
one file). The output has the columns of ``calib estimate`` plus ``n_human``,
``n_effective_human`` and ``lambda``.

Examples
--------
>>> import inspect
>>> list(inspect.signature(run).parameters)[:3]
['personas', 'human', 'outcome']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import typer

from calib.cli.commands._io import CODEBOOK_HELP, check_out, dumps, read_input, write_frame
from calib.core.cells import missing_mask
from calib.core.errors import DataError
from calib.core.sample import Sample
from calib.core.targets import Targets
from calib.data.readers import read_personas
from calib.data.variables import LEVELS

METHODS = ("ppi", "mrp", "partisan")
MISSING = ("error", "drop")


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
             hcols: list[str | None], tg: Targets | None, method: str,
             dropped: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PERSONAS and HUMAN without the rows missing a value the method uses: the given
    columns, the targets' variables (personas) and, for the joint MRP, its cell variables."""
    shared = [v for v in LEVELS if v in pframe.columns and v in hframe.columns]
    model_vars = shared if method == "mrp" else []
    tvars = [v for v in (tg.variables if tg is not None else ()) if v in pframe.columns]
    return (drop_missing(pframe, [*pcols, *tvars, *model_vars], "PERSONAS", dropped),
            drop_missing(hframe, [*hcols, *model_vars], "HUMAN", dropped))


def _read(path: str | Path, codebook: str | Path | None = None, what: str = "PERSONAS",
          note: Any = None) -> pd.DataFrame:
    if codebook is not None:
        return read_input(path, what, codebook, note)
    return read_personas(path)


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
) -> pd.DataFrame:
    """Implement ``calib hybrid``; writes ``out`` and returns the table. ``codebook`` /
    ``human_codebook`` recode PERSONAS / HUMAN first (:func:`._io.read_input`). ``missing``:
    ``"error"`` (the methods refuse missing values, naming the column) or ``"drop"`` (rows
    of PERSONAS / HUMAN missing a value the method uses are dropped; the counts are in
    ``table.attrs["dropped"]`` and printed)."""
    from calib.hybrid import ppi, ppi_mean

    for flag, value, allowed in (("--method", method, METHODS), ("--missing", missing, MISSING)):
        if value not in allowed:
            raise DataError(f"{flag} {value!r}: use one of {list(allowed)}")

    out = check_out(Path(out), overwrite, inputs=[personas, human])
    pframe = _read(personas, codebook, "PERSONAS", echo)
    hframe = _read(human, human_codebook, "--human", echo)
    for col, what, frame in ((outcome, "--outcome", pframe), (outcome, "--outcome", hframe),
                             (human_outcome, "--human-outcome", hframe),
                             (human_weight, "--human-weight", hframe), (by, "--by", pframe)):
        if col is not None and col not in frame.columns:
            where = "PERSONAS" if frame is pframe else "HUMAN"
            raise DataError(f"{what} {col!r} is not a column of {where} ({list(frame.columns)[:12]})")
    tg = Targets.read(targets) if targets is not None else None
    prediction, cells = "llm", None
    if human_outcome is None:
        human_outcome, prediction = outcome, "cell"
        cells = [v for v in LEVELS if v in pframe.columns and v in hframe.columns and v != outcome]
        if not cells:
            raise DataError("--human-outcome not given, so predictions are persona cell means, "
                            "but PERSONAS and HUMAN share no harmonized cell variable; add "
                            "--human-outcome with the LLM answer for each human in --outcome")
    dropped: dict[str, int] = {}
    if missing == "drop":
        pframe, hframe = _dropped(pframe, hframe, [outcome, by, *(cells or [])],
                                  [outcome, human_outcome, human_weight, by, *(cells or [])],
                                  tg, method, dropped)
    sample = Sample(pframe)
    if tg is not None:
        sample = sample.rake(tg)
    if method == "mrp":
        from dataclasses import replace

        from calib.data.datasets import poststrat_frame
        from calib.hybrid import joint_mrp
        from calib.hybrid.joint_mrp import JOINT_SAMPLER

        table = joint_mrp(pframe, hframe, outcome, human_outcome, poststrat_frame(), by=by,
                          human_weight=human_weight, level=level,
                          sampler=replace(JOINT_SAMPLER, seed=seed))
    else:
        # partisan: the targets (demographic + political margins) did the weighting above
        if method == "partisan" and targets is None:
            raise DataError("--method partisan needs --targets with demographic and political "
                            "(pid3 / recalled vote) margins")
        fn = ppi if not pd.api.types.is_numeric_dtype(hframe[human_outcome]) else ppi_mean
        table = fn(sample, hframe, outcome, human_outcome, human_weight=human_weight,
                   prediction=prediction, cells=cells, by=by, level=level)
    write_frame(table, out, overwrite)
    table.attrs["dropped"] = dropped
    _echo_table(echo, table, outcome, method, out)
    return table


def _echo_table(echo: Any, table: pd.DataFrame, outcome: str, method: str, out: Path) -> None:
    if echo is None:
        return
    if table.attrs.get("dropped"):
        echo("rows dropped for missing values: "
             + ", ".join(f"{k} {v}" for k, v in table.attrs["dropped"].items()))
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
        method: str = typer.Option("ppi", "--method", help="ppi (PPI++ with power tuning) | "  # noqa: B008
                                   "mrp (joint persona-human model) | partisan"),
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
            "error", "--missing", help="missing values in the columns used: error (default) or "
            "drop (rows of PERSONAS and HUMAN dropped, the counts printed)"),
        as_json: bool = typer.Option(False, "--json", help="print the run as JSON"),  # noqa: B008
    ) -> None:
        """Correct persona answers with a small human sample: PPI++ (prediction-powered
        inference, the humans rectify the persona estimate), a joint persona-human MRP with a
        partially pooled source-by-cell bias term, or partisan calibration. The output has the
        columns of `calib estimate` plus n_human, n_effective_human and lambda."""
        echo = (lambda text: typer.echo(text, err=True)) if as_json else typer.echo
        table = run(personas, human, outcome, out, human_outcome=human_outcome, by=by,
                    targets=targets, method=method, human_weight=human_weight, level=level,
                    seed=seed, overwrite=overwrite, codebook=codebook,
                    human_codebook=human_codebook, echo=None if as_json else echo,
                    missing=missing)
        if as_json:
            typer.echo(dumps({"out": str(out), "method": method, "outcome": outcome,
                              "dropped": table.attrs.get("dropped", {}), "estimates": table}))


__all__ = ["run", "register", "METHODS"]
