"""A sample that lives in files: a cell table and paths, never the rows.

:class:`FileSample` is the out-of-core counterpart of :class:`calib.Sample` (which it leaves
untouched): it holds the input paths, the base-weight column and, once weighted, the cell
table and the factor ``g`` per cell. Weighting solves on cells
(:func:`calib.outofcore.solve.solve_cells`), :meth:`FileSample.write` streams the weights back to
Parquet, and :meth:`FileSample.estimate` computes weighted (domain) means with linearized
standard errors from per-cell sufficient statistics collected by one GROUP BY.

Limits: one weighting step from the base weights, by a method whose registry record declares
``out_of_core`` (rake, poststratify, calibrate; options that need the rows, such as rake's
``cap``, are refused); for chains of steps or other methods load the rows with
:class:`calib.Sample`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import CellTable
from calib.core.errors import DataError
from calib.core.history import Step
from calib.core.literals import FileEngine, MissingRule
from calib.core.targets import Targets
from calib.outofcore.solve import check_options, solve_cells
from calib.outofcore.sources import expand


@dataclass(frozen=True)
class FileSample:
    """Persona rows in Parquet/CSV files, weighted on cells out of core.

    Attributes
    ----------
    files : the input files (globs expanded, in reading order).
    base_weight : column of base weights, or None (ones).
    engine : ``"duckdb"`` or ``"dask"``.
    client : a ``distributed.Client`` for the Dask engine (None: local scheduler).
    memory_limit : DuckDB memory limit (e.g. ``"1GB"``; None: DuckDB's default, 80% of RAM).
    cells, combos, g : after weighting, the cell table, the raw-value combinations and the
        factor per cell (a row's weight is its base weight times ``g`` of its cell).
    history : the weighting steps (at most one).

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from calib import Targets
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "p.parquet")
    >>> pd.DataFrame({"x": ["a", "b", "a", "a"], "y": [1.0, 0.0, 0.0, 1.0]}).to_parquet(src)
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "share": [0.5, 0.5]}), population=8)
    >>> s = FileSample.from_files(src).rake(t)
    >>> s.g.tolist()
    [1.3333333333333333, 4.0]
    >>> float(s.estimate("y")["estimate"].iloc[0])
    0.3333333333333333
    """

    files: tuple[str, ...]
    base_weight: str | None = None
    engine: FileEngine = "duckdb"
    client: Any = None
    memory_limit: str | None = None
    cells: CellTable | None = None
    combos: Any = None
    g: np.ndarray | None = None
    history: tuple[Step, ...] = field(default_factory=tuple)

    @classmethod
    def from_files(
        cls,
        paths: Any,
        *,
        weight: str | None = None,
        engine: FileEngine = "duckdb",
        scheduler: str | None = None,
        client: Any = None,
        memory_limit: str | None = None,
    ) -> FileSample:
        """Point at Parquet/CSV files (paths, globs or a directory of Parquet files).

        ``engine`` is ``"duckdb"`` (embedded, default) or ``"dask"``; for Dask, ``scheduler``
        is a cluster address (``"tcp://host:8786"``) or pass a ``distributed.Client``.
        """
        if engine not in ("duckdb", "dask"):
            raise DataError(
                f"engine={engine!r}: a FileSample uses 'duckdb' or 'dask'; load the rows with "
                "calib.Sample for the in-memory engine"
            )
        if scheduler is not None and client is None:
            if engine != "dask":
                raise DataError("scheduler= names a Dask cluster; pass engine='dask' with it")
            from distributed import Client

            client = Client(scheduler)
        files = tuple(expand(paths))
        for f in files:
            _unique_columns(f)
        return cls(files, weight, engine, client, memory_limit)

    @property
    def n(self) -> int:
        """Rows in the cell table (after any rows dropped for missing values)."""
        if self.cells is None:
            raise DataError("the FileSample has no cell table yet; weight it first")
        return int(self.cells.count.sum())

    def cell_table(
        self,
        variables: Any,
        *,
        levels: Any = None,
        missing: MissingRule = "error",
        numeric: Any = (),
        products: Any = None,
    ) -> tuple[CellTable, Any]:
        """Group the files into cells over ``variables`` with this sample's engine."""
        kw = dict(levels=levels, missing=missing, base_weight=self.base_weight,
                  numeric=tuple(numeric), products=products)
        if self.engine == "dask":
            from calib.outofcore.dask_cells import dask_cells

            return dask_cells(self.files, list(variables), client=self.client, **kw)
        from calib.outofcore.duckdb_cells import connect, duckdb_cells

        return duckdb_cells(self.files, list(variables), con=connect(self.memory_limit), **kw)

    def weight(self, method: str, targets: Targets, **options: Any) -> FileSample:
        """Weight by ``method`` (one declaring ``out_of_core`` in the registry) on cells."""
        if self.history:
            raise DataError(
                "a FileSample takes one weighting step from its base weights; chain steps on "
                "an in-memory calib.Sample, or combine the targets in one calibrate call"
            )
        if not isinstance(targets, Targets):
            raise DataError(f"expected calib.Targets, got {type(targets).__name__}")
        check_options(method, {k: v for k, v in options.items() if k != "population"})
        missing = options.get("missing", "error")
        cat = targets.categorical_variables
        num = tuple(v for v in targets.numeric_variables if v not in cat)
        cells, combos = self.cell_table(cat + num, levels=targets.levels(), missing=missing,
                                        numeric=num)
        if cells.n_cells == 0:
            raise DataError("no rows to weight: every row was dropped for missing values")
        g, step = solve_cells(cells, targets, method, dropped=combos.dropped, **options)
        return replace(self, cells=cells, combos=combos, g=g, history=(step,))

    def rake(self, targets: Targets, **options: Any) -> FileSample:
        """Rake out of core (see :func:`calib.weighting.rake.rake`; no ``cap``)."""
        return self.weight("rake", targets, **options)

    def poststratify(self, targets: Targets, **options: Any) -> FileSample:
        """Poststratify out of core (one joint margin; no ``collapse``)."""
        return self.weight("poststratify", targets, **options)

    def calibrate(self, targets: Targets, **options: Any) -> FileSample:
        """Calibrate out of core (see :func:`calib.weighting.calibrate.calibrate`)."""
        return self.weight("calibrate", targets, **options)

    def write(
        self,
        out: str | os.PathLike,
        *,
        weight_column: str = "weight",
        overwrite: bool = False,
        memory_limit: str | None = None,
    ) -> Any:
        """Stream the rows with their weights to ``out`` (Parquet file; a directory for Dask)."""
        from calib.outofcore.writeback import dask_write, duckdb_write

        if self.g is None or self.cells is None:  # set together by the weighting
            raise DataError("the FileSample is not weighted yet; call rake/poststratify/"
                            "calibrate first")
        kw: dict[str, Any] = dict(variables=list(self.cells.variables), base_weight=self.base_weight,
                  weight_column=weight_column, overwrite=overwrite)
        if self.engine == "dask":
            return dask_write(self.files, self.combos, self.g, out, client=self.client, **kw)
        return duckdb_write(self.files, self.combos, self.g, out,
                            memory_limit=memory_limit or self.memory_limit, **kw)

    def estimate(self, outcome: str, *, by: str | None = None, level: float = 0.95
                 ) -> pd.DataFrame:
        """Weighted mean of ``outcome`` (by domain) with linearized SEs from cell sums.

        See :func:`calib.outofcore.estimate.estimate_files`.
        """
        from calib.outofcore.estimate import estimate_files

        return estimate_files(self, outcome, by=by, level=level)


def _unique_columns(path: str | os.PathLike) -> None:
    """Refuse a file whose header names a column twice (the engines would rename the second
    ``sex_1`` and use the first without notice); reads only the header or Parquet schema."""
    p = str(path)
    if p.lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(p).names
        except (OSError, ValueError) as err:  # truncated or not Parquet
            raise DataError(f"input file {p!r} could not be read as Parquet ({err}); check "
                            "that it is complete") from None
    elif p.lower().endswith((".csv", ".txt")):
        import csv

        with open(p, newline="", encoding="utf-8", errors="replace") as fh:
            names = next(csv.reader(fh), [])
    else:
        return
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"input file {p!r}: the header names the column {name!r} twice; "
                            "rename or remove one of them")
        seen.add(name)


__all__ = ["FileSample"]
