"""The cell engine: encode rows to integer codes, collapse rows to cells, broadcast back.

This is the only module (with :mod:`calib.data.readers`) that touches rows. Every solver works on the
:class:`CellTable`: one row per occupied combination of the adjustment variables' levels,
with the count of rows, the sum of base weights and any per-cell sums a caller asks for.

Levels are matched as text: a numeric column's values are formatted with :func:`format_level`
(``1.0`` and ``1`` both become ``"1"``), so targets written in a CSV match a numeric column.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"sex": ["F", "M", "F", "F"], "age": [1, 2, 1, 2]})
>>> enc = encode(df, ["sex", "age"])
>>> cells, row_cell = collapse(enc)
>>> cells.count.tolist()
[2, 1, 1]
>>> broadcast(cells.count, row_cell).tolist()
[2, 1, 2, 1]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.core.literals import MissingRule

#: Values treated as missing in a categorical variable (compared case-insensitively, stripped).
MISSING_TOKENS: frozenset[str] = frozenset(
    {
        "",
        "na",
        "n/a",
        "nan",
        "<na>",
        "none",
        "null",
        "missing",
        "don't know",
        "dont know",
        "don’t know",
        "dk",
        "refused",
        "refusal",
        "skipped",
        "not asked",
        "inapplicable",
    }
)

#: Name of the level given to missing values with ``missing="level"``.
MISSING_LEVEL = "Missing"


def format_level(value: object) -> str:
    """Format one value as level text: integral floats lose their ``.0``.

    >>> format_level(3.0), format_level(2), format_level("TX"), format_level(0.25)
    ('3', '2', 'TX', '0.25')
    """
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if np.isfinite(f) and f == int(f) and abs(f) < 2**53:
            return str(int(f))
        return repr(f)
    return str(value)


def missing_mask(values: pd.Series) -> np.ndarray:
    """Boolean mask of missing entries: NA/NaN or a token in :data:`MISSING_TOKENS`."""
    mask = np.array(pd.isna(values), dtype=bool, copy=True)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return mask
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = pd.Index(values.cat.categories).astype(str).str.strip().str.lower()
        bad = np.asarray(cats.isin(list(MISSING_TOKENS)))
        codes = values.cat.codes.to_numpy()
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        bad = np.array([str(u).strip().lower() in MISSING_TOKENS for u in uniques], dtype=bool)
    if bad.any():
        mask |= (codes >= 0) & bad[np.maximum(codes, 0)]
    return mask


@dataclass(frozen=True)
class Encoded:
    """Integer codes of some columns of a frame.

    Attributes
    ----------
    variables : tuple of column names.
    codes : one signed integer code array per variable (values ``0..len(levels)-1``, ``-1``
        never after encoding), of the smallest integer type that holds the levels (``int8``
        for up to 127 levels): it may be a categorical column's own codes, so treat it as
        read-only.
    levels : level text per variable, in code order.
    keep : boolean row mask of the rows kept (all True unless ``missing="drop"``).
    dropped : number of rows dropped per variable because of missing values.
    """

    variables: tuple[str, ...]
    codes: tuple[np.ndarray, ...]
    levels: Mapping[str, tuple[str, ...]]
    keep: np.ndarray
    dropped: Mapping[str, int] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.levels[v]) for v in self.variables)

    @property
    def n(self) -> int:
        return int(self.codes[0].shape[0]) if self.codes else int(self.keep.sum())


def _sorted_levels(uniques: Iterable) -> list:
    vals = list(uniques)
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=format_level)


def _is_token(text: str) -> bool:
    return text.strip().lower() in MISSING_TOKENS


def _distinct(
    values: pd.Series,
) -> tuple[np.ndarray, Any, list[str], np.ndarray, list[str]]:
    """The distinct values of a column: ``(raw codes (-1 NA), uniques (None for a
    categorical), their level texts, missing-token mask, sorted non-missing level texts)``."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        raw = np.asarray(values.array.codes)
        uniq_text = [format_level(c) for c in values.cat.categories]
        token = np.array([_is_token(t) for t in uniq_text], dtype=bool)
        natural = [t for t, k in zip(uniq_text, token, strict=True) if not k]
        return raw, None, uniq_text, token, natural
    numeric = pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(
        values.dtype
    )
    raw, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
    uniq_text = [format_level(u) for u in uniques]
    if numeric:
        token = np.zeros(len(uniq_text), dtype=bool)
    else:
        token = np.array([_is_token(str(u)) for u in uniques], dtype=bool)
    order = _sorted_levels([u for u, k in zip(uniques, token, strict=True) if not k])
    return raw, uniques, uniq_text, token, [format_level(u) for u in order]


def _check_known(
    name: str,
    raw: np.ndarray,
    outside: np.ndarray,
    uniques: Any,
    uniq_text: list[str],
    out_levels: list[str],
) -> None:
    """Raise naming the values (and row counts) outside the levels, if any row holds one."""
    unknown = outside[raw] & (raw >= 0)
    if not unknown.any():
        return
    u, c = np.unique(raw[unknown], return_counts=True)
    if uniques is not None:  # not categorical: list in sorted value order
        rank = {v: i for i, v in enumerate(_sorted_levels(uniques[u]))}
        pairs = sorted(zip(u, c, strict=True), key=lambda p: rank[uniques[p[0]]])
        u, c = [p[0] for p in pairs], [p[1] for p in pairs]
    listing = ", ".join(f"{uniq_text[i]!r} ({n} rows)" for i, n in zip(u, c, strict=True))
    raise DataError(
        f"variable {name!r}: values not among the expected levels {out_levels}: "
        f"{listing}. Recode them with a Codebook or add the levels to the targets."
    )


def encode_column(
    values: pd.Series,
    name: str,
    levels: Sequence[str] | None = None,
    missing: MissingRule = "error",
    dtype: type | np.dtype | None = np.int64,
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Encode one column to codes. Returns ``(codes, levels, missing_mask)``.

    Codes of missing rows are ``-1`` unless ``missing="level"``. ``dtype`` is the codes'
    integer type; ``None`` gives the smallest signed type that holds the levels (and reuses a
    categorical column's codes, read-only, when they already are the level codes). With ``levels`` given, a value
    outside them raises :class:`~calib.core.errors.DataError` naming the values and their counts.

    The rows are touched once or twice: the distinct values are found (pandas categorical codes
    are used as they are; other columns are factorized) and every per-value decision (level,
    missing token, unknown value) is made on the distinct values, then applied to the rows with
    one table lookup.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, lv, miss = encode_column(pd.Series(["b", "NA", "a"]), "x", missing="drop")
    >>> codes.tolist(), lv, miss.tolist()
    ([1, -1, 0], ('a', 'b'), [False, True, False])
    """
    raw, uniques, uniq_text, token, natural = _distinct(values)
    k = len(uniq_text)
    if levels is None:
        out_levels = natural
    else:
        out_levels = [str(x) for x in levels]
        if len(set(out_levels)) != len(out_levels):
            raise DataError(f"variable {name!r}: duplicate levels given: {out_levels}")
    index = {t: i for i, t in enumerate(out_levels)}
    if len(index) < len(out_levels) or (levels is None and len(set(natural)) < len(natural)):
        raise DataError(
            f"variable {name!r}: two values format to the same level text; recode the column "
            "to distinct labels first"
        )
    # per distinct value: its code, -1 for missing, -2 for a value outside the levels; the
    # extra last entry is for NA (raw code -1 picks it)
    table = np.array([index.get(t, -2) for t in uniq_text] + [-1], dtype=np.int64)
    table[:k][token] = -1
    na_rows = bool(raw.size) and int(raw.min()) < 0
    if (table[:k] == -2).any():
        _check_known(name, raw, table[:k] == -2, uniques, uniq_text, out_levels)
    if token.any():
        miss = np.append(token, True)[raw]
    elif na_rows:
        miss = raw < 0
    else:
        miss = np.zeros(raw.shape[0], dtype=bool)
    if missing == "level" and (token.any() or na_rows) and miss.any():
        if MISSING_LEVEL not in index:
            out_levels.append(MISSING_LEVEL)
        table[table < 0] = out_levels.index(MISSING_LEVEL)
    if dtype is None:
        dtype = np.min_scalar_type(-max(len(out_levels), 1))  # holds -1 .. len - 1
    if np.array_equal(table[:k], np.arange(k)) and not na_rows:
        # codes already in level order: no lookup (and no copy when the type is right)
        codes = raw.astype(dtype, copy=False)
    else:
        codes = table.astype(dtype)[raw]
    return codes, tuple(out_levels), miss


def encode(
    frame: pd.DataFrame,
    variables: Sequence[str],
    *,
    levels: Mapping[str, Sequence[str]] | None = None,
    missing: MissingRule = "error",
) -> Encoded:
    """Encode ``variables`` of ``frame`` to integer codes, once.

    Parameters
    ----------
    frame : pandas.DataFrame
    variables : column names.
    levels : optional fixed level lists per variable (e.g. from targets); values outside
        them are an error.
    missing : ``"error"`` (default: raise, counting missing values per variable),
        ``"drop"`` (drop those rows; ``Encoded.dropped`` says how many per variable) or
        ``"level"`` (keep them as their own level ``"Missing"``).

    Examples
    --------
    >>> import pandas as pd
    >>> enc = encode(pd.DataFrame({"x": ["b", "a", "b"]}), ["x"])
    >>> enc.levels["x"], enc.codes[0].tolist()
    (('a', 'b'), [1, 0, 1])
    """
    if missing not in ("error", "drop", "level"):
        raise DataError(f"missing={missing!r}: use 'error', 'drop' or 'level'")
    variables = tuple(variables)
    absent = [v for v in variables if v not in frame.columns]
    if absent:
        raise DataError(
            f"variables {absent} are not columns of the data (columns: {list(frame.columns)}); "
            "rename them or recode with a Codebook"
        )
    levels = levels or {}
    n = len(frame)
    codes: list[np.ndarray] = []
    lv: dict[str, tuple[str, ...]] = {}
    keep = np.ones(n, dtype=bool)
    miss_counts: dict[str, int] = {}
    for v in variables:
        c, l_, m = encode_column(frame[v], v, levels.get(v), missing, dtype=None)
        codes.append(c)
        lv[v] = l_
        if missing != "level" and m.any():
            miss_counts[v] = int(m.sum())
            keep &= ~m
    if miss_counts and missing == "error":
        listing = ", ".join(f"{v!r}: {k} rows" for v, k in miss_counts.items())
        raise DataError(
            f"missing values in weighting variables ({listing}). Pass missing='drop' to drop "
            "those rows (the count is reported) or missing='level' to keep them as their own level"
        )
    if not keep.all():
        codes = [c[keep] for c in codes]
    return Encoded(variables, tuple(codes), lv, keep, miss_counts)


@dataclass(frozen=True)
class CellTable:
    """Rows collapsed to their occupied cells.

    Attributes
    ----------
    variables, levels : the adjustment variables and their level text.
    keys : (m, k) int array, the codes of each occupied cell.
    count : rows per cell.
    weight : sum of base weights per cell.
    sums : further per-cell sums (name -> array), as asked for in :func:`collapse`.
    """

    variables: tuple[str, ...]
    levels: Mapping[str, tuple[str, ...]]
    keys: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    sums: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_cells(self) -> int:
        return int(self.keys.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.levels[v]) for v in self.variables)

    def codes(self, variable: str) -> np.ndarray:
        """Codes of one variable per cell."""
        return self.keys[:, self.variables.index(variable)]

    def joint_index(self, variables: Sequence[str]) -> tuple[np.ndarray, tuple[int, ...]]:
        """Flat index per cell into the joint levels of ``variables`` (C order), and its shape."""
        shape = tuple(len(self.levels[v]) for v in variables)
        if not variables:
            return np.zeros(self.n_cells, dtype=np.int64), ()
        idx = np.ravel_multi_index(tuple(self.codes(v) for v in variables), shape)
        return idx.astype(np.int64, copy=False), shape

    def to_frame(self) -> pd.DataFrame:
        """The cell table as a DataFrame with level text, ``count``, ``weight`` and the sums."""
        data = {
            # pandas accepts any list-like categories; its stubs want an Index
            v: pd.Categorical.from_codes(self.keys[:, j], categories=list(self.levels[v]))  # pyright: ignore[reportCallIssue, reportArgumentType]
            for j, v in enumerate(self.variables)
        }
        data["count"] = self.count
        data["weight"] = self.weight
        data.update(self.sums)
        return pd.DataFrame(data)


def _flat_index(codes: Sequence[np.ndarray], shape: tuple[int, ...]) -> tuple[np.ndarray, int]:
    size = int(np.prod(shape, dtype=object)) if shape else 1
    if size < 2**62:
        if not shape:
            return np.zeros(len(codes[0]) if codes else 0, dtype=np.int64), size
        # C-order flat index by Horner's rule, in place (codes are in range by construction;
        # ravel_multi_index would check bounds and convert every array first)
        flat = np.array(codes[0], dtype=np.int64, copy=True)
        for c, k in zip(codes[1:], shape[1:], strict=True):
            flat *= k
            flat += c
        return flat, size
    # too many combinations for one int64: fall back to row-wise unique
    stacked = np.column_stack(codes)
    _, inv = np.unique(stacked, axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64), -1


def collapse(
    encoded: Encoded,
    weight: np.ndarray | None = None,
    sums: Mapping[str, np.ndarray] | None = None,
) -> tuple[CellTable, np.ndarray]:
    """Collapse encoded rows to occupied cells with one bincount pass.

    Parameters
    ----------
    encoded : output of :func:`encode`.
    weight : base weight per (kept) row; ones if omitted.
    sums : name -> per-row array; the table gets its per-cell sum under the same name.

    Returns
    -------
    (CellTable, row_cell) where ``row_cell[i]`` is the cell of kept row ``i``.
    """
    codes = encoded.codes
    n = encoded.n
    shape = encoded.shape
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    if w.shape != (n,):
        raise DataError(f"weight has {w.shape[0]} rows but the encoded data has {n}")
    flat, size = _flat_index(codes, shape)
    if 0 <= size <= max(8 * n, 1 << 22):
        counts_all = np.bincount(flat, minlength=size)
        occupied = np.flatnonzero(counts_all)
        lookup = np.full(size, -1, dtype=np.int64)
        lookup[occupied] = np.arange(occupied.size)
        row_cell = lookup[flat]
        count = counts_all[occupied]
        keys = np.column_stack(np.unravel_index(occupied, shape)) if shape else np.zeros(
            (occupied.size, 0), dtype=np.int64
        )
    else:
        occupied, row_cell = np.unique(flat, return_inverse=True)
        row_cell = row_cell.ravel()
        count = np.bincount(row_cell, minlength=occupied.size)
        if size >= 0:
            keys = np.column_stack(np.unravel_index(occupied, shape))
        else:
            first = np.zeros(occupied.size, dtype=np.int64)
            first[row_cell[::-1]] = np.arange(n)[::-1]
            keys = np.column_stack([c[first] for c in codes])
    m = occupied.size
    if n and w[0] > 0 and (w == w[0]).all():
        wsum = count * w[0]  # equal weights (e.g. none given): no second pass over the rows
    else:
        wsum = np.bincount(row_cell, weights=w, minlength=m)
    extra = {
        name: np.bincount(row_cell, weights=np.asarray(arr, dtype=float), minlength=m)
        for name, arr in (sums or {}).items()
    }
    table = CellTable(
        variables=encoded.variables,
        levels=dict(encoded.levels),
        keys=np.asarray(keys, dtype=np.int64).reshape(m, len(shape)),
        count=count.astype(np.int64),
        weight=wsum,
        sums=extra,
    )
    return table, row_cell


def broadcast(cell_values: np.ndarray, row_cell: np.ndarray) -> np.ndarray:
    """Give every row its cell's value with one ``take``."""
    return np.take(np.asarray(cell_values), row_cell, axis=0)


__all__ = [
    "MISSING_TOKENS",
    "MISSING_LEVEL",
    "format_level",
    "missing_mask",
    "Encoded",
    "encode",
    "encode_column",
    "CellTable",
    "collapse",
    "broadcast",
]
