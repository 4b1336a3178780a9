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
import weakref
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import CellTable
from calib.core.errors import DataError
from calib.core.history import Step
from calib.core.literals import FileEngine, MissingRule
from calib.core.optional import require
from calib.core.targets import Targets
from calib.outofcore.solve import check_options, solve_cells
from calib.outofcore.sources import expand

#: Per-cell sum of squared base weights (collected when there is a base-weight column).
SQ_SUM = "__w2"


def file_cells(cells: CellTable, g: np.ndarray) -> Any:
    """The diagnostics' cell sums of an out-of-core cell table weighted by ``g``: counts,
    base weights (``cells.weight``) and weights (``cells.weight * g``) per cell; numeric
    auxiliaries (cell keys, so one value per cell) as weighted sums.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from calib.core.cells import collapse, encode
    >>> cells, _ = collapse(encode(pd.DataFrame({"x": ["a", "b", "a"]}), ["x"]))
    >>> file_cells(cells, np.array([1.0, 2.0])).shares(["x"], "after").to_dict()
    {'a': 0.5, 'b': 0.5}
    """
    from calib.weighting.diagnostics import CellSums

    count = cells.count.astype(float)
    after = cells.weight * g
    kinds = {"unweighted": count, "before": cells.weight, "after": after}
    numeric = {}
    for v in cells.variables:
        total = cells.sums.get(f"__num__{v}")
        if total is None:
            continue
        x = total / np.maximum(count, 1)  # the cell's value
        numeric[v] = {"n": int(cells.count.sum()),
                      **{k: (float(w.sum()), float((x * w).sum())) for k, w in kinds.items()}}
    cat = [v for v in cells.variables if v not in numeric]
    cols = [cells.variables.index(v) for v in cat]
    return CellSums(tuple(cat), {v: cells.levels[v] for v in cat}, cells.keys[:, cols], kinds,
                    {k: float(w.sum()) for k, w in kinds.items()}, numeric)


class OwnedClient:
    """A ``distributed.Client`` calib opened, closed once: by :meth:`close`, when the last
    FileSample holding it is garbage collected, or at interpreter exit (``weakref.finalize``;
    an open client kept the process waiting ~30 s and reconnecting after the cluster went).

    >>> class C:
    ...     def close(self): print("closed")
    >>> h = OwnedClient(C())
    >>> h.close(); h.close()
    closed
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._finalizer = weakref.finalize(self, client.close)

    def close(self) -> None:
        self._finalizer()  # runs client.close at most once


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
    #: the client opened from a scheduler address, shared by the samples derived from this one
    handle: OwnedClient | None = field(default=None, repr=False, compare=False)

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
        files = tuple(expand(paths))  # a missing file first: it is not an engine problem
        for f in files:
            _unique_columns(f)
        if engine == "dask":
            require("dask.dataframe", "engine='dask' (--engine dask)")
        handle = None
        if scheduler is not None and client is None:
            if engine != "dask":
                raise DataError("scheduler= names a Dask cluster; pass engine='dask' with it")
            handle = OwnedClient(require("distributed", "a Dask scheduler").Client(scheduler))
            client = handle.client
        return cls(files, weight, engine, client, memory_limit, handle=handle)

    def close(self) -> None:
        """Close the Dask client this sample opened from a ``scheduler`` address (a client
        passed in is the caller's to close). Also done when the last FileSample sharing the
        client is garbage collected, or at interpreter exit; ``with FileSample.from_files(...)
        as fs:`` closes it at the end of the block."""
        if self.handle is not None:
            self.handle.close()

    def __enter__(self) -> FileSample:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        # the squared base weights per cell give the diagnostics' n_eff and CV
        sq = {SQ_SUM: ("__w", "__w")} if self.base_weight is not None else None
        cells, combos = self.cell_table(cat + num, levels=targets.levels(), missing=missing,
                                        numeric=num, products=sq)
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

    def diagnostics(self, targets: Targets | None = None) -> Any:
        """Diagnostics of the weights from the cell table (see
        :func:`calib.weighting.diagnostics.cell_summary`): the same margin table and ASMD as
        :meth:`calib.Sample.diagnostics` on the same rows (default targets: the step's). With
        a base-weight column the weights vary within a cell, so the weight summary's min,
        max and shares above multiples of the mean are NaN (n_eff, deff, CV are exact)."""
        from calib.weighting.diagnostics import cell_summary, cell_weight_summary

        if self.g is None:
            raise DataError("the FileSample is not weighted yet; call rake/poststratify/"
                            "calibrate first")
        assert self.cells is not None  # weighted: the cells exist
        step = self.history[-1]
        targets = targets if targets is not None else step.targets
        sq = self.cells.sums.get(SQ_SUM)
        weights = cell_weight_summary(self.cells.count, self.cells.weight * self.g,
                                      None if sq is None else sq * self.g**2)
        return cell_summary(file_cells(self.cells, self.g), targets, weights=weights,
                            method=step.method)

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


__all__ = ["FileSample", "file_cells", "SQ_SUM"]
