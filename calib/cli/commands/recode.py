"""``calib recode``: recode a raw persona or survey file with a codebook and write it.

``calib recode INPUT --codebook FILE|NAME --out OUTPUT [--report REPORT.csv] [--overwrite]``

Every other command that reads personas takes ``--codebook`` itself; ``recode`` is for files
weighted out of core (``--engine duckdb|dask``), where the recoding must be done once
beforehand, and for checking a codebook: the mapping report (source value -> level, rows)
prints, or is written with ``--report``.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "p.csv").write_text("SEX\\nMale\\nfemale\\n")
>>> _ = (d / "b.toml").write_text('[[recode]]\\ntarget = "sex"\\nsource = "SEX"\\n'
...                               'map = {male = "Male", female = "Female"}\\nignore_case = true\\n')
>>> run(d / "p.csv", d / "b.toml", d / "out.parquet")["sex"].tolist()
['Male', 'Female']
"""

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from calib.cli.commands._io import check_out, write_frames
from calib.core.errors import MissingFileError
from calib.data.readers import read_personas


def run(input: Path, codebook: str | Path, out: Path, *, report: Path | None = None,  # noqa: A002
        overwrite: bool = False, echo: Any = None) -> pd.DataFrame:
    """Implement ``calib recode``; returns the recoded frame (raw columns + targets)."""
    out = check_out(out, overwrite, inputs=[input])
    report = check_out(report, overwrite, "--report", inputs=[input, out])
    if not Path(input).is_file():
        raise MissingFileError(input, "INPUT")
    frame, rep = read_personas(input, codebook=str(codebook))
    write_frames([(frame.reset_index(drop=True), out),
                  (rep.to_frame() if report is not None else None, report)], overwrite)
    if echo is not None:
        echo(str(rep))
        echo(f"wrote {len(frame)} rows to {out}")
    return frame


def register(app: typer.Typer) -> None:
    """Register ``calib recode``."""

    @app.command("recode")
    def recode_cmd(
        input: Annotated[Path, typer.Argument(  # noqa: A002
            help="raw persona or survey file (CSV, TSV, Parquet, JSONL)")],
        codebook: Annotated[str, typer.Option(
            "--codebook", help="TOML codebook file, or a built-in codebook name (personas, "
            "llm-simulation, anes2020, cces2018, gss)")],
        out: Annotated[Path, typer.Option("--out", help="recoded file (CSV or Parquet)")],
        report: Annotated[Path | None, typer.Option(
            "--report", help="also write the mapping report (value -> level, rows)")] = None,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace existing output files")] = False,
    ) -> None:
        """Recode INPUT's attributes onto calib's harmonized levels with a codebook and write
        the raw columns plus one column per codebook target. Unmapped values are an error
        listing each value with its row count."""
        run(input, codebook, out, report=report, overwrite=overwrite, echo=typer.echo)


__all__ = ["run", "register"]
