"""``calib compare PERSONAS --outcome COL --benchmark TRUTH --out TABLE.csv``: many methods, one
table.

TRUTH has ``state`` and ``dem_two_party_share`` (e.g. ``calib simulate --truth``) or give
``--certified YEAR``. Methods by name (``--method`` repeated): raw, poststratify, rake,
calibrate-logit, optimal, propensity, partisan, mrp, ppi, joint-mrp. The frame defaults to the shipped CVAP cells.

Examples
--------
>>> import tempfile, pathlib
>>> from calib.cli.commands.simulate import run as simulate
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = simulate(2024, d / "p.parquet", per_state=40, human_n=0, seed=1, truth=d / "t.csv")
>>> c = run(d / "p.parquet", "vote_dem", d / "c.csv", benchmark=d / "t.csv", methods=["raw"],
...         persona_type="meta", variables=["age6"])
>>> c.summary["method"].tolist()
['raw']
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from calib.cli.commands._io import (
    CodebookOption,
    read_frame,
    read_input,
)
from calib.core.errors import DataError
from calib.data.datasets import election_results, poststrat_frame


def run(personas: Path, outcome: str, out: Path | None, *, benchmark: Path | None = None,
        certified: int | None = None, methods: list[str] | None = None, by: str = "state",
        human: Path | None = None, human_outcome: str | None = None,
        llm_outcome: str | None = None, persona_type: str | None = None, variables: list[str] | None = None,
        level: float = 0.95, seed: int | None = None, overwrite: bool = False,
        codebook: str | Path | None = None, human_codebook: str | Path | None = None,
        echo: Any = None, progress: bool | None = False) -> Any:
    """Read the files (recoding PERSONAS / HUMAN with ``codebook`` / ``human_codebook`` when
    given) and run :func:`calib.studies.comparison.compare`."""
    from calib.studies.comparison import DEFAULT_VARIABLES, compare

    if out is not None:
        from calib.data.output import check_targets
        from calib.studies.comparison import Comparison

        check_targets([(q, w) for q, w in zip(Comparison.paths(out), ("--out", "--out summary"),
                                              strict=True)], overwrite, kind="table",
                      inputs=[x for x in (personas, human, benchmark) if x is not None])
    p = read_input(personas, "PERSONAS", codebook, echo)
    if persona_type is not None:
        p = p[p["persona_type"].astype(str) == persona_type]
    p[outcome] = p[outcome].astype(float)
    if benchmark is not None:
        b = read_frame(benchmark, "--benchmark")
        bench = b.set_index("state")["dem_two_party_share"].astype(float)
    elif certified is not None:
        bench = election_results(certified).set_index("state_po")["dem_two_party_share"]
    else:
        raise DataError("give --benchmark TRUTH or --certified YEAR")
    h = read_input(human, "--human", human_codebook, echo) if human is not None else None
    if h is not None and human_outcome:
        for col in {human_outcome, llm_outcome or outcome}:
            if col not in h.columns:
                raise DataError(f"--human: no column {col!r}")
            h[col] = h[col].astype(float)
        if "weight" in h:
            h["weight"] = h["weight"].astype(float)
    c = compare(p, outcome, benchmark=bench, methods=methods or ["raw", "rake"], by=by,
                frame=poststrat_frame(), variables=tuple(variables or DEFAULT_VARIABLES), human=h,
                human_outcome=human_outcome, llm_outcome=llm_outcome, level=level, seed=seed,
                progress=progress)
    c.require_estimates()  # every method failed: exit 3, nothing written
    if out is not None:
        c.write(str(out), overwrite=overwrite)
    return c


def register(app: typer.Typer) -> None:
    """Register ``calib compare``."""

    @app.command("compare")
    def compare_cmd(
        personas: Annotated[Path, typer.Argument(help="persona rows (CSV or Parquet)")],
        outcome: Annotated[str, typer.Option("--outcome", help="0/1 answer column")],
        out: Annotated[Path, typer.Option("--out", help="per-state table; *_summary.csv beside")],
        benchmark: Annotated[Path | None, typer.Option("--benchmark", help="truth by state")] = None,
        certified: Annotated[int | None, typer.Option("--certified", help="certified year")] = None,
        method: Annotated[list[str] | None, typer.Option(
            "--method", help="raw, poststratify, rake, calibrate-logit, optimal, propensity, "
            "partisan, mrp, ppi or joint-mrp (repeat; default raw and rake)")] = None,
        by: Annotated[str, typer.Option("--by", help="domain column")] = "state",
        human: Annotated[Path | None, typer.Option("--human", help="human benchmark rows")] = None,
        human_outcome: Annotated[str | None, typer.Option(
            "--human-outcome", help="the human's real answer in HUMAN")] = None,
        llm_outcome: Annotated[str | None, typer.Option(
            "--llm-outcome", help="the LLM's answer for each human (default: --outcome)")] = None,
        persona_type: Annotated[str | None, typer.Option(
            "--persona-type", help="keep only this persona_type (meta, objective, ...)")] = None,
        variable: Annotated[list[str] | None, typer.Option("--variable", help="target variable (repeat)")] = None,
        level: Annotated[float, typer.Option("--level", help="confidence level")] = 0.95,
        seed: Annotated[int | None, typer.Option("--seed", help="random seed")] = None,
        codebook: CodebookOption = None,
        human_codebook: Annotated[str | None, typer.Option(
            "--human-codebook", help="codebook for HUMAN (TOML file or built-in name)")] = None,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace existing output files")] = False,
    ) -> None:
        """Run several methods on one persona set against a benchmark: bias, RMSE, coverage,
        winners called, ESS and run time per method."""
        c = run(personas, outcome, out, benchmark=benchmark, certified=certified, methods=method,
                by=by, human=human, human_outcome=human_outcome, llm_outcome=llm_outcome,
                persona_type=persona_type,
                variables=variable, level=level, seed=seed, overwrite=overwrite,
                codebook=codebook, human_codebook=human_codebook, echo=typer.echo,
                progress=None)
        typer.echo(str(c))
        typer.echo(f"wrote {out}")
