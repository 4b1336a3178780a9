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

import pandas as pd

from ..errors import DataError

METHODS = ("ppi", "mrp", "partisan")


def _read(path: str | Path) -> pd.DataFrame:
    from ..io import read_personas

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
) -> pd.DataFrame:
    """Implement ``calib hybrid``; writes ``out`` and returns the table."""
    from .. import Sample
    from ..hybrid import ppi, ppi_mean
    from ..targets import Targets
    from ..variables import LEVELS

    if method not in METHODS:
        raise DataError(f"--method {method!r}: use one of {list(METHODS)}")
    from ._io import check_out

    check_out(Path(out), overwrite)
    pframe, hframe = _read(personas), _read(human)
    for col, what, frame in ((outcome, "--outcome", pframe), (outcome, "--outcome", hframe),
                             (human_outcome, "--human-outcome", hframe),
                             (human_weight, "--human-weight", hframe), (by, "--by", pframe)):
        if col is not None and col not in frame.columns:
            where = "PERSONAS" if frame is pframe else "HUMAN"
            raise DataError(f"{what} {col!r} is not a column of {where} ({list(frame.columns)[:12]})")
    sample = Sample(pframe)
    if targets is not None:
        sample = sample.rake(Targets.read(targets))
    prediction, cells = "llm", None
    if human_outcome is None:
        human_outcome, prediction = outcome, "cell"
        cells = [v for v in LEVELS if v in pframe.columns and v in hframe.columns and v != outcome]
        if not cells:
            raise DataError("--human-outcome not given, so predictions are persona cell means, "
                            "but PERSONAS and HUMAN share no harmonized cell variable; add "
                            "--human-outcome with the LLM answer for each human in --outcome")
    if method == "mrp":
        from ..datasets import poststrat_frame
        from ..hybrid import joint_mrp

        table = joint_mrp(pframe, hframe, outcome, human_outcome, poststrat_frame(), by=by,
                          human_weight=human_weight, level=level, seed=seed)
    else:
        # partisan: the targets (demographic + political margins) did the weighting above
        if method == "partisan" and targets is None:
            raise DataError("--method partisan needs --targets with demographic and political "
                            "(pid3 / recalled vote) margins")
        fn = ppi if not pd.api.types.is_numeric_dtype(hframe[human_outcome]) else ppi_mean
        table = fn(sample, hframe, outcome, human_outcome, human_weight=human_weight,
                   prediction=prediction, cells=cells, by=by, level=level)
    table.to_csv(out, index=False)
    return table


def register(app) -> None:
    """Register ``hybrid`` on a Typer app (the ``calib`` CLI)."""
    import typer

    @app.command("hybrid")
    def hybrid(  # noqa: B008 - typer idiom
        personas: Path = typer.Argument(..., help="persona file (CSV/Parquet/JSONL)"),  # noqa: B008
        human: Path = typer.Option(..., "--human", help="human sample file"),  # noqa: B008
        outcome: str = typer.Option(..., "--outcome", help="LLM answer column"),  # noqa: B008
        out: Path = typer.Option(..., "--out", help="output CSV"),  # noqa: B008
        human_outcome: str | None = typer.Option(None, "--human-outcome"),  # noqa: B008
        by: str | None = typer.Option(None, "--by"),  # noqa: B008
        targets: Path | None = typer.Option(None, "--targets"),  # noqa: B008
        method: str = typer.Option("ppi", "--method", help="ppi|mrp|partisan"),  # noqa: B008
        human_weight: str | None = typer.Option(None, "--human-weight"),  # noqa: B008
        level: float = typer.Option(0.95, "--level"),  # noqa: B008
        seed: int | None = typer.Option(None, "--seed"),  # noqa: B008
        overwrite: bool = typer.Option(False, "--overwrite"),  # noqa: B008
    ) -> None:
        """Correct persona answers with a small human sample (PPI++, joint MRP, partisan)."""
        run(personas, human, outcome, out, human_outcome=human_outcome, by=by, targets=targets,
            method=method, human_weight=human_weight, level=level, seed=seed,
            overwrite=overwrite)


__all__ = ["run", "register", "METHODS"]
