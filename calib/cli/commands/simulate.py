"""``calib simulate``: a persona election study with known truth, written to files.

Writes the personas (every persona type), the human benchmark sample and the truth per state
(certified shares of ``--year``), CSV or Parquet by extension.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> st = run(2024, d / "p.parquet", per_state=20, human_n=50, seed=1, truth=d / "t.csv")
>>> len(st.personas)
4000
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from calib.cli.commands._io import write_frames
from calib.data.output import check_targets


def run(year: int, personas: Path, *, per_state: int = 1000, human_n: int = 1500,
        seed: int | None = None, human: Path | None = None, truth: Path | None = None,
        overwrite: bool = False) -> Any:
    """Simulate and write the study files."""
    from calib.studies.election_study import election_study

    outs = [(p, w) for p, w in ((personas, "--personas"), (human, "--human"), (truth, "--truth"))
            if p is not None]
    check_targets(outs, overwrite, kind="table")
    st = election_study(year, per_state=per_state, human_n=human_n, seed=seed)
    write_frames([(st.personas, personas), (st.human, human), (st.truth_state, truth)],
                 overwrite)
    return st


def register(app: typer.Typer) -> None:
    """Register ``calib simulate``."""

    @app.command("simulate")
    def simulate_cmd(
        personas: Annotated[Path, typer.Option("--personas", help="persona rows to write")],
        year: Annotated[int, typer.Option("--year", help="2016, 2020 or 2024")] = 2024,
        per_state: Annotated[int, typer.Option("--per-state", help="meta personas per state")] = 1000,
        human_n: Annotated[int, typer.Option("--human-n", help="human benchmark size")] = 1500,
        human: Annotated[Path | None, typer.Option("--human", help="human rows to write")] = None,
        truth: Annotated[Path | None, typer.Option("--truth", help="truth by state to write")] = None,
        seed: Annotated[int | None, typer.Option("--seed")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
    ) -> None:
        """Simulate a persona election study with known truth (composition and response bias
        by persona type, an ANES-sized human sample) and write it to files."""
        st = run(year, personas, per_state=per_state, human_n=human_n, seed=seed, human=human,
                 truth=truth, overwrite=overwrite)
        typer.echo(f"{len(st.personas):,} persona rows, {len(st.human):,} humans; truth: "
                   f"national D two-party {st.truth_national:.4f} ({year} certified by state)")
