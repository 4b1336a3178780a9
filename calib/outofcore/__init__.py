"""Out-of-core engines: cells from files with DuckDB or Dask, weights written back by streaming.

The weighting and MRP code needs only the cell table (:class:`calib.core.cells.CellTable`), so data
that does not fit in memory is grouped to cells where it lies -- DuckDB (embedded, default) for
files on this machine, Dask for data spread over a cluster -- solved on cells with the in-memory
solvers, and the weights are joined back to the rows by streaming (``weight = base x g``).

Engines: ``"memory"`` (pandas + :class:`calib.Sample`), ``"duckdb"``, ``"dask"``;
``"auto"`` picks memory when the input files take less than a quarter of the available RAM,
else DuckDB (:func:`choose_engine` says which and why).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from calib.core.errors import DataError
from calib.core.literals import ENGINE_NAMES, Engine
from calib.core.targets import Targets
from calib.outofcore.sources import (
    Paths,
    expand,
    file_format,
    total_size,
)

ENGINES: tuple[Engine, ...] = ENGINE_NAMES


@dataclass(frozen=True)
class EngineChoice:
    """The engine used and why."""

    engine: Engine
    reason: str

    def __str__(self) -> str:
        return f"engine: {self.engine} ({self.reason})"


def engine_name(engine: str) -> Engine | Literal["auto"]:
    """``engine`` checked against the engine names (a plain ``str`` from the CLI).

    Examples
    --------
    >>> engine_name("duckdb")
    'duckdb'
    """
    if engine != "auto" and engine not in ENGINES:
        raise DataError(f"engine={engine!r}: use 'auto', 'memory', 'duckdb' or 'dask'")
    return engine


def choose_engine(paths: Paths, engine: Engine | Literal["auto"] = "auto", *, fraction: float = 0.25) -> EngineChoice:
    """Pick the engine: an explicit one, or memory when the files fit, else DuckDB.

    "Fit" means the files' size on disk is below ``fraction`` of the available memory
    (``psutil.virtual_memory().available``).

    Examples
    --------
    >>> choose_engine([__file__]).engine
    'memory'
    >>> choose_engine([__file__], "dask").reason
    'asked for'
    """
    engine = engine_name(engine)
    if engine != "auto":
        return EngineChoice(engine, "asked for")
    import psutil

    size = total_size(expand(paths))
    avail = int(psutil.virtual_memory().available)
    if size < fraction * avail:
        return EngineChoice(
            "memory", f"input {size / 2**20:.1f} MiB < {fraction:g} x available RAM "
            f"{avail / 2**30:.1f} GiB"
        )
    return EngineChoice(
        "duckdb", f"input {size / 2**20:.1f} MiB >= {fraction:g} x available RAM "
        f"{avail / 2**30:.1f} GiB"
    )


@dataclass(frozen=True)
class WeightedFiles:
    """Result of :func:`weight_files`: the write-back, the engine choice and the step."""

    out: str
    rows: int
    dropped: int
    choice: EngineChoice
    step: Any
    sample: Any


def _read_all(files: list[str], targets: Any, base_weight: str | None):
    """The files as one frame, read as every table (CSV as text, :func:`read_table`); the
    base weight and the targets' numeric auxiliaries converted to numbers, as the command
    line does."""
    import pandas as pd

    from calib.data.tables import read_table, to_numeric

    file_format(files)  # one format, a known one
    parts = [read_table(f, "input file") for f in files]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    numbers = {v: f"numeric auxiliary {v!r}" for v in getattr(targets, "numeric_variables", ())}
    if base_weight is not None:
        numbers[base_weight] = f"base weight {base_weight!r}"
    for v, what in numbers.items():  # text columns only: Parquet keeps its types
        if v in frame.columns and not pd.api.types.is_numeric_dtype(frame[v].dtype):
            frame[v] = to_numeric(frame, v, what)
    return frame


def weight_files(
    paths: Paths,
    targets: Targets,
    method: str = "rake",
    *,
    out: str | os.PathLike,
    engine: Engine | Literal["auto"] = "auto",
    weight_column: str = "weight",
    base_weight: str | None = None,
    overwrite: bool = False,
    scheduler: Any = None,
    memory_limit: str | None = None,
    **method_options: Any,
) -> WeightedFiles:
    """Weight persona files to targets and write them back with a weight column.

    Parameters
    ----------
    paths : Parquet (or CSV, memory/cells only) paths, globs or a directory.
    targets : the margins.
    method : ``"rake"``, ``"poststratify"`` or ``"calibrate"`` (any registered method with
        ``engine="memory"``).
    out : output Parquet file (a directory of parts for Dask); never overwritten unless
        ``overwrite=True``.
    engine : ``"auto"`` (memory when the files fit, else DuckDB), ``"memory"``, ``"duckdb"``,
        ``"dask"``.
    weight_column : name of the written weight column (an input column of that name is
        replaced).
    base_weight : column of base weights (ones if None).
    scheduler : the Dask cluster: its address (``"tcp://host:8786"``) or a
        ``distributed.Client``; None: Dask's local scheduler.
    memory_limit : DuckDB memory limit (e.g. ``"1GB"``); DuckDB spills beyond it.
    method_options : passed to the method (``tol``, ``max_iter``, ``missing``, ``distance``...).

    Returns
    -------
    WeightedFiles
        The output path, rows written, rows dropped for missing values, the engine choice and
        the weighting Step.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "p.parquet")
    >>> pd.DataFrame({"x": ["a", "b", "a"]}).to_parquet(src)
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "total": [3.0, 3.0]}))
    >>> r = weight_files(src, t, "poststratify", out=os.path.join(d, "w.parquet"),
    ...                  engine="duckdb")
    >>> pd.read_parquet(r.out)["weight"].tolist(), r.choice.engine
    ([1.5, 3.0, 1.5], 'duckdb')
    """
    from calib.outofcore.writeback import WriteResult, check_out

    if "client" in method_options:
        raise TypeError("weight_files: pass the distributed.Client as scheduler= (client= was "
                        "merged into it)")
    files = expand(paths)
    choice = choose_engine(files, engine)
    # before any work: a folder, a clash or an input as output is refused here
    raw = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    check_out(out, overwrite, inputs=[*raw, *files], parts=choice.engine == "dask")
    if choice.engine == "memory":
        import numpy as np

        from calib.core.sample import Sample
        from calib.data.output import write_table

        frame = _read_all(files, targets, base_weight)
        s = Sample(frame, weight=base_weight).weight(method, targets, **method_options)
        res = s.frame.drop(columns=[weight_column], errors="ignore").copy()
        res[weight_column] = np.asarray(s.weights, dtype=float)
        write_table(res, out, overwrite=overwrite)  # CSV or Parquet by the suffix
        wr = WriteResult(os.fspath(out), len(res), len(frame) - len(res), "memory")
        return WeightedFiles(wr.out, wr.rows, wr.dropped, choice, s.history[-1], s)
    from calib.outofcore.filesample import FileSample

    # a Client is passed through as is; an address is connected to by FileSample
    address, client = (scheduler, None) if isinstance(scheduler, str) else (None, scheduler)
    fs = FileSample.from_files(files, weight=base_weight, engine=choice.engine,
                               scheduler=address, client=client, memory_limit=memory_limit)
    fs = fs.weight(method, targets, **method_options)
    wr = fs.write(out, weight_column=weight_column, overwrite=overwrite)
    return WeightedFiles(wr.out, wr.rows, wr.dropped, choice, fs.history[-1], fs)


def __getattr__(name: str) -> Any:
    if name == "FileSample":
        from calib.outofcore.filesample import FileSample

        return FileSample
    if name == "estimate_files":
        from calib.outofcore.estimate import estimate_files

        return estimate_files
    raise AttributeError(name)


__all__ = ["ENGINES", "EngineChoice", "choose_engine", "weight_files", "WeightedFiles",
           "FileSample", "estimate_files"]
