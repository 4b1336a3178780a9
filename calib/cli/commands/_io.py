"""File conventions shared by every ``calib`` command: CSV or Parquet by extension, never
overwrite an output file without ``--overwrite``, one-line JSON for ``--json``.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = pd.DataFrame({"x": ["1", "02"]}).to_csv(d / "a.csv", index=False)
>>> read_frame(d / "a.csv")["x"].tolist()
['1', '02']
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, overload

import typer

from calib.core.errors import DataError, MissingFileError

if TYPE_CHECKING:
    import pandas as pd

# numpy, pandas and the readers (which import pandas) are imported by the functions that read
# or convert data, so that ``calib --help`` and ``calib targets list`` start without them

PARQUET = (".parquet", ".pq")

#: ``--help`` text of ``--codebook`` (every command that reads personas has the option).
CODEBOOK_HELP = ("recode the persona file first with this codebook: a TOML file or a built-in "
                 "name (personas, llm-simulation, anes2020, cces2018, gss); see docs/personas.md")

#: Options shared by several commands, declared once (typer copies the option per use).
CodebookOption = Annotated[str | None, typer.Option("--codebook", help=CODEBOOK_HELP)]
EngineOption = Annotated[str, typer.Option(
    "--engine", help="auto|memory|duckdb|dask (auto: memory when the input fits in a quarter "
    "of the free RAM, else duckdb; the choice is printed)")]
SchedulerOption = Annotated[str | None, typer.Option(
    "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")]
CSV = (".csv", ".txt")


def read_frame(path: str | Path, what: str = "INPUT") -> pd.DataFrame:
    """Read a command's table with :func:`calib.data.tables.read_table`, refusing an empty one.

    CSV columns stay text (only empty cells missing) so that a code ``"01"`` or ``"1"``
    matches the target level written the same way; :func:`to_numeric` converts the columns a
    command uses as numbers. Parquet (and JSONL / JSON records) keep their types.

    Parameters
    ----------
    path : the file; ``.csv``, ``.parquet`` or another format :func:`read_table` reads.
    what : how error messages name the file (``INPUT``, ``--reference`` ...).

    Returns
    -------
    pandas.DataFrame with a fresh RangeIndex (row order of the file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "b.csv"
    >>> _ = p.write_text("a,b\\n1,\\nx,NA\\n")
    >>> f = read_frame(p)
    >>> f["b"].isna().tolist(), f["b"].iloc[1]
    ([True, False], 'NA')
    """
    from calib.data.tables import read_table

    frame = read_table(path, what)
    if Path(path).suffix.lower() in (".parquet", ".pq"):
        # hand Arrow's read buffers back to the system: what follows allocates with numpy,
        # so the peak would otherwise be the read's plus the command's
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    if len(frame) == 0:
        raise DataError(f"{what} {str(path)!r} has no rows")
    return frame


def read_input(path: str | Path, what: str = "INPUT", codebook: str | Path | None = None,
               note: Any = None) -> pd.DataFrame:
    """Read a command's persona/sample file, recoding it with ``--codebook`` when given.

    Without a codebook this is :func:`read_frame` (CSV as text, or Parquet). With one, the
    file is read by :func:`calib.data.readers.read_personas` (CSV, TSV, Parquet, JSONL; the Tianyi-Lab
    persona layout is recognised) and recoded: the codebook's target columns (harmonized
    levels) are added beside the raw ones, and every unmapped value is an error listing its
    row count. ``codebook`` is a TOML file or the name of a built-in codebook
    (``calib.data.codebook.Codebook.builtin_names()``, e.g. ``personas``). ``note`` (a callable)
    receives a one-line summary: rows recoded and NA count per target.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.csv").write_text("SEX,AGE\\nMale,30-34\\nfemale,71\\n")
    >>> _ = (d / "b.toml").write_text(
    ...     '[[recode]]\\ntarget = "sex"\\nsource = "SEX"\\nmap = {Male = "Male", female = "Female"}\\n')
    >>> read_input(d / "p.csv", codebook=d / "b.toml", note=print)["sex"].tolist()
    codebook 'b' (INPUT): 2 rows recoded; missing after recoding: sex 0
    ['Male', 'Female']
    """
    from calib.data.readers import read_personas

    if codebook is None:
        return read_frame(path, what)

    path = Path(path)
    if not path.exists():
        raise MissingFileError(path, what)
    text = str(codebook)
    if text.endswith(".toml") and not Path(text).is_file():
        raise DataError(f"file not found: {text!r} (--codebook); give a TOML codebook file "
                        "or a built-in codebook name")
    frame, report = read_personas(path, codebook=text)
    if len(frame) == 0:
        raise DataError(f"{what} {str(path)!r} has no rows")
    if note is not None:
        miss = ", ".join(f"{k} {v}" for k, v in report.missing.items())
        note(f"codebook {report.name!r} ({what}): {report.n_rows} rows recoded; missing after "
             f"recoding: {miss or 'none'}")
    return frame.reset_index(drop=True)


def note_to(echo: Any, as_json: bool) -> Any:
    """Where a command's side notes (the codebook summary) go: ``echo``, stderr under
    ``--json`` (stdout then carries only the JSON), or nowhere when ``echo`` is None."""
    if echo is None:
        return None
    if as_json:
        return lambda text: typer.echo(text, err=True)
    return echo


def codebook_in_memory(codebook: Any, engine: str, scheduler: str | None, input: Any) -> None:  # noqa: A002
    """``--codebook`` recodes in memory: refuse out-of-core engines, naming the fix."""
    if codebook is None:
        return
    if not any(c in str(input) for c in "*?[") and not Path(input).exists():
        # a missing file is that, not an engine problem
        raise MissingFileError(input, "INPUT")
    single = Path(input).is_file() and not any(c in str(input) for c in "*?[")
    if engine not in ("auto", "memory") or scheduler is not None or not single:
        raise DataError(
            "--codebook recodes a single file in memory; with --engine duckdb|dask, "
            "--scheduler or several files, recode first (`calib recode INPUT --codebook FILE "
            "--out recoded.parquet`, once per file) and weight the recoded files"
        )


def require_columns(frame: pd.DataFrame, columns: Iterable[str | None], what: str) -> None:
    """Raise :class:`DataError` naming every column of ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: column(s) {missing} not found; it has {list(frame.columns)[:20]}"
        )


def to_numeric(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """Column ``column`` as float (:func:`calib.data.tables.to_numeric`, imported on use so
    that ``calib --help`` does not load pandas).

    >>> import pandas as pd
    >>> to_numeric(pd.DataFrame({"w": ["1.5", None]}), "w", "--base-weight").tolist()
    [1.5, nan]
    """
    from calib.data import tables

    return tables.to_numeric(frame, column, what)


def looks_numeric(col: pd.Series) -> bool:
    """True when every non-missing value of ``col`` parses as a number (and there is one)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(col.dtype):
        return True
    if pd.api.types.is_numeric_dtype(col.dtype):
        return True
    if isinstance(col.dtype, pd.CategoricalDtype):
        return False
    present = col.dropna()
    return bool(len(present)) and bool(pd.to_numeric(present, errors="coerce").notna().all())


@overload
def check_out(path: None, overwrite: bool, what: str = ..., table: bool | None = ...,
              inputs: Iterable[Any] = ...) -> None: ...
@overload
def check_out(path: str | Path, overwrite: bool, what: str = ...,
              table: bool | None = ..., inputs: Iterable[Any] = ...) -> Path: ...
@overload
def check_out(path: str | Path | None, overwrite: bool, what: str = ...,
              table: bool | None = ..., inputs: Iterable[Any] = ...) -> Path | None: ...
def check_out(path: str | Path | None, overwrite: bool, what: str = "--out",
              table: bool | None = None, inputs: Iterable[Any] = ()) -> Path | None:
    """Validate an output path before any work (:func:`calib.data.output.check_target`):
    known extension (``table``: a CSV/Parquet table; default all but ``--diagnostics-json``),
    not a folder, folder exists, not one of ``inputs`` (files, folders, globs), and no
    existing file unless ``overwrite``."""
    if path is None:
        return None
    if table is None:
        table = what != "--diagnostics-json"
    from calib.data.output import check_target  # numpy: not at start-up

    return check_target(path, overwrite, what, kind="table" if table else None, inputs=inputs)


def write_frame(frame: pd.DataFrame, path: Path, overwrite: bool = False,
                what: str = "--out") -> None:
    """Write CSV or Parquet by extension (no index) through the output layer: a temporary
    beside ``path``, published at the end (:func:`calib.data.output.write_table`)."""
    from calib.data.output import write_table

    write_table(frame, path, overwrite=overwrite, what=what)


def write_frames(tables: Iterable[tuple[pd.DataFrame | None, Path | None]],
                 overwrite: bool) -> None:
    """Write several tables of one command (``(frame, path)``; a None path is skipped) and
    publish them together (:class:`calib.data.output.Staged`): a failure leaves none."""
    from calib.data.output import Staged, frame_to, table_kind

    with Staged(overwrite=overwrite) as st:
        for frame, path in tables:
            if path is not None and frame is not None:
                frame_to(frame, st.path(path), table_kind(path))


def _plain(value: Any) -> Any:
    # a numpy / pandas value exists only once its library is imported
    np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    return value


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """Records with plain Python values (NaN -> null) for JSON output."""
    return [
        {str(k): _plain(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")
    ]


def dumps(obj: Any) -> str:
    """JSON text (NaN/inf become null, numpy scalars plain)."""

    def default(o: Any) -> Any:
        np, pd = sys.modules.get("numpy"), sys.modules.get("pandas")
        if np is not None and isinstance(o, np.generic):
            return _plain(o)
        if isinstance(o, Path):
            return str(o)
        if pd is not None and isinstance(o, pd.DataFrame):
            return frame_records(o)
        if pd is not None and isinstance(o, pd.Series):
            return {str(k): _plain(v) for k, v in o.items()}
        return str(o)

    def clean(o: Any) -> Any:
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        return _plain(o)

    return json.dumps(clean(obj), default=default, indent=2)
