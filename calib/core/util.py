"""Small helpers every layer uses, written once: Kish's effective sample size, the normal
quantile of a confidence level, the refuse-to-overwrite check and the CSV-as-text rule.

Examples
--------
>>> round(z_value(0.95), 6), kish_ess([1.0, 1.0, 2.0])
(1.959964, 2.6666666666666665)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from calib.core.errors import DataError, OutputExistsError

if TYPE_CHECKING:
    import pandas as pd

#: What a CSV cell must hold to be read as missing: nothing. ``"NA"``, ``"null"``, ``"nan"``
#: and every other text stay text (pandas' default list would turn them into NaN).
CSV_NA_VALUES: tuple[str, ...] = ("",)


def kish_ess(w: Sequence[float] | np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` of the weights ``w``.

    The formula only: callers that need the weights checked first use
    :func:`calib.core.sample.check_weights` (or :func:`calib.weighting.diagnostics.kish_ess`,
    which does both).

    Examples
    --------
    >>> kish_ess([1, 1, 2, 4])
    2.909090909090909
    """
    a = np.asarray(w, dtype=float).ravel()
    return float(a.sum() ** 2 / np.dot(a, a))  # dot: no row-sized temporary


def kish_ess_sums(sum_w: Any, sum_w2: Any) -> Any:
    """Kish's effective sample size from the sums ``sum w`` and ``sum w^2`` (per domain when
    given arrays): ``sum_w^2 / sum_w2``.

    Examples
    --------
    >>> kish_ess_sums(np.array([8.0, 2.0]), np.array([22.0, 2.0])).tolist()
    [2.909090909090909, 2.0]
    """
    return sum_w**2 / sum_w2


def z_value(level: float) -> float:
    """The standard normal quantile of a two-sided confidence ``level``: ``Phi^-1((1+level)/2)``.

    One library for every interval (the standard library's ``NormalDist``; scipy's
    ``norm.ppf`` agrees to about 1e-16).

    Examples
    --------
    >>> z_value(0.95)
    1.9599639845400536
    >>> z_value(1.5)
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: level=1.5: a confidence level must be between 0 and 1 (e.g. 0.95)
    """
    if not 0 < level < 1:
        raise DataError(f"level={level!r}: a confidence level must be between 0 and 1 (e.g. 0.95)")
    return NormalDist().inv_cdf(0.5 + level / 2)


def check_output(path: str | os.PathLike, overwrite: bool, what: str = "output") -> Path:
    """Refuse an output path that exists unless ``overwrite``; returns it as a Path.

    Every writer of calib (CLI commands, ``save``/``write`` methods, write-backs, reports)
    calls it before any work, so one message and one error type say what to do.

    Parameters
    ----------
    path : the file (or folder) about to be written.
    overwrite : True to allow replacing it (the caller replaces it).
    what : how the message names the output (``"--out"``, ``"report file"`` ...).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> check_output(d, overwrite=True) == Path(d)
    True
    >>> check_output(d, overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.OutputExistsError: output '...' already exists; pass overwrite=True (--overwrite on the command line) to replace it, or choose another path
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise OutputExistsError(
            f"{what} {str(p)!r} already exists; pass overwrite=True (--overwrite on the command "
            "line) to replace it, or choose another path"
        )
    return p


def read_csv_text(path: str | os.PathLike, *, sep: str = ",") -> pd.DataFrame:
    """Read a CSV (or, with ``sep="\\t"``, a TSV) with every column as text.

    The one CSV rule of calib: values stay the text of the file (``"01"`` stays ``"01"`` and
    matches a target level ``"01"``), only an empty cell is missing (``"NA"`` is text).
    Callers convert the columns they use as numbers. :func:`calib.data.tables.read_table`
    reads every user table with it; :meth:`calib.core.targets.Targets.read` too (the core
    cannot import the data layer).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("a,b\\n01,NA\\n2,\\n")
    >>> f = read_csv_text(p)
    >>> f["a"].tolist(), f["b"].tolist()
    (['01', '2'], ['NA', nan])
    """
    import pandas as pd

    frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                        na_values=list(CSV_NA_VALUES))
    _no_duplicate_columns(path, sep)
    return frame


def _no_duplicate_columns(path: str | os.PathLike, sep: str) -> None:
    """Refuse a header that names a column twice (pandas would silently rename the second
    ``sex.1`` and every command would use the first)."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        header = next(csv.reader(fh, delimiter=sep), [])
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"{str(path)!r}: the header names the column {name!r} twice; "
                            "rename or remove one of them")
        seen.add(name)


def check_solver(tol: float | None, max_iter: int | None, what: str = "") -> None:
    """Refuse a tolerance that is not > 0 (and finite) or fewer than 1 iteration, naming the
    option (``what`` prefixes the flag names, e.g. ``"--"`` on the command line).

    >>> check_solver(1e-8, 100)
    >>> check_solver(0, 100)
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: tol=0: the convergence tolerance must be a number > 0, e.g. 1e-10
    """
    if tol is not None and not (isinstance(tol, int | float) and np.isfinite(tol) and tol > 0):
        raise DataError(f"{what}tol={tol!r}: the convergence tolerance must be a number > 0, "
                        "e.g. 1e-10")
    if max_iter is not None and not (isinstance(max_iter, int | np.integer) and max_iter >= 1):
        raise DataError(f"{what}max_iter={max_iter!r}: the most iterations must be an integer "
                        ">= 1")


__all__ = ["CSV_NA_VALUES", "check_output", "check_solver", "kish_ess", "kish_ess_sums", "read_csv_text",
           "z_value"]
