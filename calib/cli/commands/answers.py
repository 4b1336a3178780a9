"""``calib answers``: join a seed-pipeline answer file to its personas.

``calib answers ANSWERS --personas PERSONAS [--codebook NAME] [--questions Q.json ...]
[--source NAME ...] [--question ID ...] [--missing error|drop] --out JOINED [--overwrite]
[--json]``

JOINED has one row per answer: ``persona_id, persona_source, multi_turn, question, topic,
letter, answer, status``, then the persona attributes (the codebook's targets first), so
``calib estimate JOINED --outcome answer --by question --missing drop`` runs as is. The rules
(ids, letters, non-response) are those of :func:`calib.data.answers.join_seed_answers`; the
counts per question print (non-response included).

Examples
--------
>>> import inspect
>>> list(inspect.signature(run).parameters)[:3]
['answers', 'personas', 'out']
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from calib.cli.commands._io import check_out, dumps, write_frame
from calib.core.errors import DataError
from calib.data.answers import join_seed_answers, read_questions, read_seed_answers
from calib.data.readers import read_personas


def run(
    answers: str | Path,
    personas: str | Path,
    out: str | Path,
    *,
    codebook: str | Path | None = None,
    questions: list[Path] | None = None,
    sources: list[str] | None = None,
    question_ids: list[str] | None = None,
    missing: str = "error",
    overwrite: bool = False,
    echo: Any = None,
) -> tuple[pd.DataFrame, Any]:
    """Implement ``calib answers``; writes ``out`` and returns ``(joined, report)``."""
    out = check_out(Path(out), overwrite)
    if missing not in ("error", "drop"):
        raise DataError(f"--missing {missing!r}: use error or drop")
    if not Path(personas).is_file():
        raise DataError(f"--personas {str(personas)!r} does not exist; check the path")
    targets: list[str] = []
    if codebook is not None:
        frame, rep = read_personas(personas, codebook=str(codebook))
        targets = list(rep.missing)
        if echo is not None:
            echo(f"codebook {rep.name!r} (--personas): {rep.n_rows} rows recoded")
    else:
        frame = read_personas(personas)
    ans = read_seed_answers(answers)
    qs = read_questions(questions or [])
    joined, report = join_seed_answers(
        frame.reset_index(drop=True), ans, questions=qs, sources=sources or None,
        question_ids=question_ids or None, missing=missing, attributes=targets,  # type: ignore[arg-type]
    )
    write_frame(joined, out)
    if echo is not None:
        echo(str(report))
        echo(f"wrote {len(joined)} answers to {out}")
    return joined, report


def register(app: typer.Typer) -> None:
    """Register ``calib answers``."""

    @app.command("answers")
    def answers_cmd(
        answers: Annotated[Path, typer.Argument(
            help="long answer file of the seed pipeline (simulation_family, persona_source, "
            "multi_turn, topic_index, topic, option_A, option_B, state, persona_id, "
            "persona_index, decision, decision_raw)")],
        personas: Annotated[Path, typer.Option(
            "--personas", help="the persona file that answered (persona_id, or state + "
            "persona_index)")],
        out: Annotated[Path, typer.Option(
            "--out", help="joined table, one row per answer (CSV or Parquet)")],
        codebook: Annotated[str | None, typer.Option(
            "--codebook", help="recode PERSONAS first (a TOML file or a built-in name, e.g. "
            "llm-simulation)")] = None,
        questions: Annotated[list[Path] | None, typer.Option(
            "--questions", help="a question file (JSON) giving the stances of letters the "
            "rows' option columns lack; repeat for several")] = None,
        source: Annotated[list[str] | None, typer.Option(
            "--source", help="keep this persona_source (needed when the file has several); "
            "repeatable")] = None,
        question: Annotated[list[str] | None, typer.Option(
            "--question", help="keep this question (<simulation_family>/<topic_index>, e.g. "
            "Election/3); repeatable")] = None,
        missing: Annotated[str, typer.Option(
            "--missing", help="answers whose persona is not in PERSONAS: error (naming the "
            "ids) or drop (counted)")] = "error",
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace an existing --out")] = False,
        as_json: Annotated[bool, typer.Option(
            "--json", help="print the counts per question as JSON")] = False,
    ) -> None:
        """Join a long answer file of the seed pipeline to its personas: letters become the
        stances of their row (or question file), INVALID/ABSTAIN and unparseable decisions are
        non-response (counted per question), and each answer gets its persona's attributes."""
        echo = None if as_json else typer.echo
        joined, rep = run(answers, personas, out, codebook=codebook, questions=questions,
                          sources=source, question_ids=question, missing=missing,
                          overwrite=overwrite, echo=echo)
        if as_json:
            typer.echo(dumps({"out": str(out), "rows": len(joined), "counts": rep.counts,
                              "invalid": rep.invalid, "dropped": rep.dropped,
                              "dropped_ids": rep.dropped_ids}))


__all__ = ["run", "register"]
