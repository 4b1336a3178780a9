"""Low-level helpers of calib's files: the JSON sidecar next to a stored object.

Every object calib stores (a weighted sample, an MRP fit, replicate weights) is a data file
plus a JSON sidecar ``<path>.json`` with its format, the calib version and what is needed to
rebuild it. The objects themselves are saved by the layer that defines them:
:mod:`calib.estimation.persist` (samples and replicate weights, re-weighted on load) and
:mod:`calib.mrp.store` (MRP fits); ``calib.persist``, the old path, serves all five names.

Examples
--------
>>> from pathlib import Path
>>> sidecar(Path("out/s.parquet")).name
's.parquet.json'
>>> json_default(np.float64(1.5)), json_safe(object)
(1.5, "<class 'object'>")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from calib import __version__
from calib.core.errors import DataError
from calib.data.output import check_target


def version() -> str:
    """The calib version written into every sidecar.

    >>> version() == __import__("calib").__version__
    True
    """
    return __version__


def sidecar(path: Path) -> Path:
    """The JSON sidecar of a stored file: ``<path>.json``.

    >>> sidecar(Path("fit.zarr")).name
    'fit.zarr.json'
    """
    return path.with_name(path.name + ".json")


def check_free(paths: list[Path], overwrite: bool) -> None:
    """Refuse to replace existing ``paths`` unless ``overwrite``, and a folder in any case
    (:func:`calib.data.output.check_target`; a missing parent folder is made).

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "s.parquet"; _ = f.write_bytes(b"")
    >>> check_free([f], overwrite=True)
    >>> check_free([f], overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.OutputExistsError: output '...s.parquet' already exists; pass overwrite=True (--overwrite on the command line) to replace it, or choose another path
    >>> check_free([f.parent], overwrite=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: output '...' is a folder; give a file path (a file name)
    """
    for p in paths:
        check_target(p, overwrite, "output", kind=None, make_parents=True)


def json_default(v: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars, arrays and tuples (TypeError otherwise).

    >>> json.dumps({"a": np.arange(2), "b": (1, 2)}, default=json_default)
    '{"a": [0, 1], "b": [1, 2]}'
    """
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


def json_safe(v: Any) -> Any:
    """Like :func:`json_default`, with ``repr`` for anything else (options of a fit).

    >>> json_safe(np.int64(3)), json_safe(len)
    (3, '<built-in function len>')
    """
    try:
        return json_default(v)
    except TypeError:
        return repr(v)


def read_sidecar(path: Path, fmt: str, writer: str) -> dict[str, Any]:
    """The sidecar of ``path``, checked to be of format ``fmt`` (``writer`` names the saver).

    Raises
    ------
    DataError
        When the sidecar is missing or of another format.

    Examples
    --------
    >>> read_sidecar(Path("/nonexistent/s.parquet"), "calib-sample/1", "save_sample")
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: /nonexistent/s.parquet: no sidecar s.parquet.json; write it with save_sample
    """
    side = sidecar(path)
    if not side.exists():
        raise DataError(f"{path}: no sidecar {side.name}; write it with {writer}")
    meta = json.loads(side.read_text())
    if meta.get("format") != fmt:
        raise DataError(f"{side}: format {meta.get('format')!r}, expected {fmt!r}")
    return meta


__all__ = ["version", "sidecar", "check_free", "json_default", "json_safe", "read_sidecar"]
