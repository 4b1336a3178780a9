"""The one output layer of calib: every file or store a command or function writes goes
through it, so nothing is lost and nothing half-written is left under a final name.

The contract (docs/cli.md, "Outputs"):

* **checked before any work** (:func:`check_target`, :func:`check_targets`): a known suffix
  for the format (a ``.csv`` path gets CSV, never Parquet bytes), an existing parent folder,
  no folder as a file output, no output that is one of the run's inputs (by resolved path;
  an input glob or folder that matches an existing output is refused too), no two
  outputs of a run under one name, and no existing file unless ``overwrite``;
* **written to a temporary beside the target** (``.<name>.calib-<pid>.tmp``), then
  **published** (:func:`publish`): ``os.link`` + unlink without ``overwrite`` (a name that
  appeared meanwhile -- a second writer -- fails with :class:`OutputExistsError`, exit 2, and
  is left as it is), ``os.replace`` with it; a failure or an interrupt (Ctrl-C) removes the
  temporary, so a partial run leaves nothing under the final names;
* **folders** are written only as calib stores (an MRP fit store, Dask parts) into a
  temporary folder and renamed; ``overwrite`` replaces an existing folder only when it carries
  the store's marker (:func:`publish_dir`), never a user's folder;
* temporaries of dead runs (their pid no longer alive) are removed when the name is next
  written.

Test hook: when the environment variable ``CALIB_TEST_PAUSE_BEFORE_PUBLISH`` holds a number
of seconds, :func:`publish` sleeps that long before publishing (the tests kill a writer or
start a second one in that window instead of writing gigabytes).

Examples
--------
>>> import tempfile, pandas as pd
>>> d = Path(tempfile.mkdtemp())
>>> out = write_table(pd.DataFrame({"x": [1, 2]}), d / "a.csv", overwrite=False)
>>> out.read_text().splitlines(), sorted(p.name for p in d.iterdir())
(['x', '1', '2'], ['a.csv'])
>>> write_table(pd.DataFrame({"x": [3]}), d / "a.csv", overwrite=False)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
calib.core.errors.OutputExistsError: --out '...a.csv' already exists; ...
"""

from __future__ import annotations

import fnmatch
import glob as _glob
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from calib.core.errors import DataError, OutputExistsError
from calib.core.util import check_output

#: Environment variable read by :func:`publish`: seconds to sleep before publishing (tests).
PAUSE_ENV = "CALIB_TEST_PAUSE_BEFORE_PUBLISH"

#: Table formats by suffix.
TABLE_SUFFIXES: dict[str, str] = {".csv": "csv", ".txt": "csv", ".parquet": "parquet",
                                  ".pq": "parquet"}

_TMP = re.compile(r"^\.(?P<name>.+)\.calib-(?P<pid>\d+)\.(?:tmp|old)$")


def table_kind(path: str | os.PathLike, what: str = "--out") -> str:
    """``"csv"`` or ``"parquet"`` from the suffix of ``path``; any other suffix is an error.

    Examples
    --------
    >>> table_kind("w.PARQUET"), table_kind("w.csv")
    ('parquet', 'csv')
    >>> table_kind("w.xlsx")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: --out 'w.xlsx': unknown extension '.xlsx'; use .csv or .parquet
    """
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{what} {os.fspath(path)!r}: unknown extension {suffix or '(none)'!r}; "
                        "use .csv or .parquet")
    return TABLE_SUFFIXES[suffix]


def temp_path(final: str | os.PathLike, suffix: str = "tmp") -> Path:
    """The temporary beside ``final`` that this process writes: ``.<name>.calib-<pid>.tmp``.

    Examples
    --------
    >>> temp_path("/d/out.csv").name == f".out.csv.calib-{os.getpid()}.tmp"
    True
    """
    p = Path(final)
    return p.with_name(f".{p.name}.calib-{os.getpid()}.{suffix}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's process) or cannot tell: keep its file
    return True


def remove_stale(final: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``final`` left by runs that died (their pid is not alive).

    Returns the removed paths. A live run's temporary is never touched.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".o.csv.calib-999999999.tmp").write_text("half")
    >>> [p.name for p in remove_stale(d / "o.csv")]
    ['.o.csv.calib-999999999.tmp']
    """
    p = Path(final)
    removed: list[Path] = []
    try:
        entries = list(p.parent.glob(f".{glob_escape(p.name)}.calib-*.*"))
    except OSError:
        return removed
    for e in entries:
        m = _TMP.match(e.name)
        if m is None or m["name"] != p.name or _alive(int(m["pid"])):
            continue
        try:
            if e.is_dir() and not e.is_symlink():
                shutil.rmtree(e)  # a temporary store folder this layer created
            else:
                e.unlink()
            removed.append(e)
        except OSError:
            pass
    return removed


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters escaped (:func:`glob.escape`)."""
    return _glob.escape(text)


def _resolved(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).resolve()


def _input_matches(out: Path, item: str | os.PathLike) -> bool:
    """True when the input ``item`` (file, folder or glob) is or reads the file ``out``.

    A glob or folder is matched against the files it stands for now: an earlier output it
    matches (the rerun case) is refused, a new output beside the inputs is not.
    """
    s = os.fspath(item)
    if any(ch in s for ch in "*?["):
        pattern = os.path.abspath(os.path.expanduser(s))
        if out.exists() and fnmatch.fnmatchcase(str(out), pattern):
            return True
        return any(_resolved(f) == out for f in _glob.glob(pattern, recursive=True))
    p = _resolved(s)
    if p.is_dir():  # a folder input stands for the tables in it
        return p == out or (out.exists() and p in out.parents)
    return p == out


def check_target(path: str | os.PathLike, overwrite: bool, what: str = "--out", *,
                 kind: str | None = "table", inputs: Iterable[str | os.PathLike] = (),
                 make_parents: bool = False, store_marker: Callable[[Path], bool] | None = None
                 ) -> Path:
    """Check one output before any work; returns it as a Path.

    Parameters
    ----------
    path : the output file (a folder only for a store: ``kind="store"``).
    overwrite : allow replacing an existing file (a store: only one ``store_marker`` accepts).
    what : how messages name it (``--out``, ``--diagnostics-json``, ``report file`` ...).
    kind : ``"table"`` (``.csv``/``.parquet``), ``"store"`` (a calib folder), or None (any
        suffix: JSON, HTML ...).
    inputs : the run's input files, folders or globs; an output among them is refused.
    make_parents : create a missing parent folder (else it is an error).
    store_marker : for ``kind="store"``: True for a folder that is this kind of store.

    Raises
    ------
    DataError
        Unknown suffix, a folder, a missing parent folder, or one of the inputs.
    OutputExistsError
        It exists and ``overwrite`` is False (or it is a folder that is not a calib store).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "in.csv").write_text("a\\n1\\n")
    >>> check_target(d / "in.csv", True, inputs=[d / "*.csv"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: --out '...in.csv' is also an input (INPUT '...*.csv'); ...
    """
    p = Path(path)
    if kind == "table":
        table_kind(p, what)
    out = _resolved(p)
    for item in inputs:
        if _input_matches(out, item):
            raise DataError(f"{what} {str(p)!r} is also an input (INPUT {os.fspath(item)!r}); "
                            "write the output to another file or folder (an input glob must "
                            "not match the output)")
    if p.is_dir():
        if kind != "store":
            raise DataError(f"{what} {str(p)!r} is a folder; give a file path "
                            f"({'.csv or .parquet' if kind == 'table' else 'a file name'})")
        if overwrite and store_marker is not None and not store_marker(p):
            raise OutputExistsError(f"{what} {str(p)!r} is a folder that is not a calib store; "
                                    "it is never replaced: choose another path")
    elif kind == "store" and p.exists() and overwrite:
        raise OutputExistsError(f"{what} {str(p)!r} is a file, not a calib store; it is never "
                                "replaced by one: choose another path")
    check_output(p, overwrite, what)
    if not p.parent.exists():
        if not make_parents:
            raise DataError(f"{what} {str(p)!r}: folder {str(p.parent)!r} does not exist")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(p, what, e) from e
    if not os.access(p.parent, os.W_OK | os.X_OK):
        raise DataError(f"{what} {str(p)!r}: folder {str(p.parent)!r} is not writable; "
                        "choose another path")
    return p


def check_targets(targets: Sequence[tuple[str | os.PathLike | None, str]], overwrite: bool, *,
                  inputs: Iterable[str | os.PathLike] = (), kind: str | None = None
                  ) -> list[Path | None]:
    """Check every output of a run (``(path or None, what)`` pairs) before any work.

    Besides :func:`check_target` for each, two outputs under one name are refused.
    ``kind`` None checks tables by suffix only for ``.csv``/``.parquet`` names.

    Examples
    --------
    >>> check_targets([("a.csv", "--out"), ("./a.csv", "--report")], True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: --report 'a.csv' and --out 'a.csv' name the same file; ...
    """
    inputs = list(inputs)
    seen: dict[Path, str] = {}
    out: list[Path | None] = []
    for path, what in targets:
        if path is None:
            out.append(None)
            continue
        r = _resolved(path)
        if r in seen:
            raise DataError(f"{what} {os.path.normpath(os.fspath(path))!r} and {seen[r]} "
                            f"{os.path.normpath(os.fspath(path))!r} name the same file; "
                            "choose different paths")
        seen[r] = what
        k = kind if kind is not None else (
            "table" if Path(path).suffix.lower() in TABLE_SUFFIXES else None)
        out.append(check_target(path, overwrite, what, kind=k, inputs=inputs))
    return out


def write_error(final: str | os.PathLike, what: str, err: OSError) -> DataError:
    """The :class:`DataError` (exit 2) for an OSError while writing ``final``: a full disk, a
    folder without write permission ... named with the file and the fix.

    >>> str(write_error("o.csv", "--out", OSError(28, "No space left on device")))
    "--out 'o.csv': cannot write it (No space left on device); free space or check the folder's permissions, or choose another path"
    """
    reason = err.strerror or str(err) or type(err).__name__
    return DataError(f"{what} {os.fspath(final)!r}: cannot write it ({reason}); free space or "
                     "check the folder's permissions, or choose another path")


def _pause() -> None:
    value = os.environ.get(PAUSE_ENV)
    if value:
        time.sleep(float(value))


def publish(tmp: str | os.PathLike, final: str | os.PathLike, *, overwrite: bool,
            what: str = "output") -> Path:
    """Move the finished temporary ``tmp`` to ``final`` in one step.

    Without ``overwrite``: ``os.link`` then unlink (fails if ``final`` exists, whoever made it);
    with it: ``os.replace``. The temporary is removed either way.

    Raises
    ------
    OutputExistsError
        ``final`` appeared since the check (another writer); it is left untouched.
    """
    tmp, final = Path(tmp), Path(final)
    try:
        _pause()
        if overwrite:
            os.replace(tmp, final)
            return final
        try:
            try:
                os.link(tmp, final)
            except FileExistsError:
                raise
            except OSError:  # no hard links here (some network/FAT filesystems)
                fd = os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # claim the name
                os.close(fd)
                os.replace(tmp, final)
        except FileExistsError:
            raise OutputExistsError(
                f"{what} {str(final)!r} was created by another writer while this run worked; "
                "it is left as it is: rerun with another path (or --overwrite)") from None
        return final
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_path(final: str | os.PathLike, *, overwrite: bool, what: str = "output"
                ) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; publish it when the block ends normally.

    On any exception, Ctrl-C included, the temporary is removed and ``final`` untouched.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.json", overwrite=False) as tmp:
    ...     _ = tmp.write_text("{}")
    >>> sorted(p.name for p in d.iterdir())
    ['x.json']
    """
    final = Path(final)
    check_output(final, overwrite, what)  # fail before the work when it is already taken
    remove_stale(final)
    tmp = temp_path(final)
    try:
        yield tmp
        publish(tmp, final, overwrite=overwrite, what=what)
    except OSError as e:
        raise write_error(final, what, e) from e
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()


def frame_to(frame: Any, tmp: str | os.PathLike, kind: str) -> None:
    """Write ``frame`` (no index) to the file ``tmp`` as ``kind`` (``"csv"``/``"parquet"``):
    the one place a table's bytes are made, so the format always follows the final suffix."""
    if kind == "parquet":
        _parquet(frame, tmp)
    elif kind == "csv":
        frame.to_csv(tmp, index=False)
    else:
        raise DataError(f"table format {kind!r}: use 'csv' or 'parquet'")


#: Rows per Parquet row group written (pyarrow's default row group size).
ROW_GROUP = 1024 * 1024


def _parquet(frame: Any, path: str | os.PathLike) -> None:
    """Parquet without an index; a large frame one row group at a time (the row groups pyarrow
    would write anyway), so the Arrow copy of the data is one row group, not the whole frame."""
    if len(frame) <= ROW_GROUP:
        frame.to_parquet(path, index=False)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, len(frame), ROW_GROUP):
            part = frame.iloc[start:start + ROW_GROUP]
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))

def write_table(frame: Any, path: str | os.PathLike, *, overwrite: bool, what: str = "--out"
                ) -> Path:
    """Write a DataFrame as CSV or Parquet by suffix (no index), through a temporary.

    ``overwrite`` is the caller's: it checked the path already (:func:`check_target`); here it
    picks how the file is published.
    """
    kind = table_kind(path, what)
    with atomic_path(path, overwrite=overwrite, what=what) as tmp:
        frame_to(frame, tmp, kind)
    return Path(path)


def write_text(text: str, path: str | os.PathLike, *, overwrite: bool, what: str = "output",
               encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` through a temporary (JSON, HTML ...).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.json"
    >>> write_text("{}", p, overwrite=False).read_text()
    '{}'
    """
    with atomic_path(path, overwrite=overwrite, what=what) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def publish_dir(tmp: str | os.PathLike, final: str | os.PathLike, *, overwrite: bool,
                is_store: Callable[[Path], bool], what: str = "output") -> Path:
    """Rename the finished folder ``tmp`` to ``final``.

    An existing ``final`` is replaced only with ``overwrite`` and only when ``is_store`` says
    it is a calib store of this kind (it is moved aside, the new one renamed in, then the old
    one removed); any other folder or file is refused and left intact.
    """
    tmp, final = Path(tmp), Path(final)
    _pause()
    if os.path.lexists(final):
        if not overwrite:
            raise OutputExistsError(f"{what} {str(final)!r} already exists; pass overwrite=True "
                                    "(--overwrite on the command line) to replace it")
        if not (final.is_dir() and not final.is_symlink() and is_store(final)):
            raise OutputExistsError(f"{what} {str(final)!r} is not a calib store; it is never "
                                    "replaced: choose another path")
        old = temp_path(final, "old")
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old)  # the old store, checked above to be calib's
        return final
    try:
        os.mkdir(final)  # claim the name: fails if another writer has it
    except FileExistsError:
        raise OutputExistsError(f"{what} {str(final)!r} was created by another writer while "
                                "this run worked; it is left as it is") from None
    os.rename(tmp, final)  # onto the empty folder just made: atomic on POSIX
    return final


@contextmanager
def atomic_dir(final: str | os.PathLike, *, overwrite: bool, is_store: Callable[[Path], bool],
               what: str = "output") -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; rename it to ``final`` at the end
    (:func:`publish_dir`); removed on any exception.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_dir(d / "s", overwrite=False, is_store=lambda p: True) as tmp:
    ...     _ = (tmp / "part.0").write_text("x")
    >>> sorted(p.name for p in (d / "s").iterdir())
    ['part.0']
    """
    final = Path(final)
    remove_stale(final)
    tmp = temp_path(final)
    try:
        tmp.mkdir()
    except OSError as e:
        raise write_error(final, what, e) from e
    try:
        yield tmp
        publish_dir(tmp, final, overwrite=overwrite, is_store=is_store, what=what)
    except OSError as e:
        raise write_error(final, what, e) from e
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


class Staged:
    """Several outputs written to temporaries, published together at the end.

    ``path(final)`` gives the temporary to write; :meth:`commit` publishes them all (a clash
    on one removes those already published by this run); leaving the ``with`` block by an
    exception removes every temporary: a run that fails half way leaves nothing.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with Staged(overwrite=False) as st:
    ...     _ = st.path(d / "a.csv").write_text("a")
    ...     _ = st.path(d / "b.json").write_text("{}")
    >>> sorted(p.name for p in d.iterdir())
    ['a.csv', 'b.json']
    """

    def __init__(self, *, overwrite: bool, what: str = "output") -> None:
        self.overwrite = overwrite
        self.what = what
        self.items: list[tuple[Path, Path]] = []

    def path(self, final: str | os.PathLike) -> Path:
        """The temporary to write for ``final`` (its parent folder is created)."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(final)
        tmp = temp_path(final)
        self.items.append((tmp, final))
        return tmp

    def commit(self) -> list[Path]:
        """Publish every staged output; on a clash, unpublish this run's and re-raise."""
        done: list[Path] = []
        try:
            for tmp, final in self.items:
                publish(tmp, final, overwrite=self.overwrite, what=self.what)
                done.append(final)
        except BaseException:
            if not self.overwrite:  # those were new names: take them back
                for f in done:
                    f.unlink(missing_ok=True)
            raise
        finally:
            self.discard()
        return done

    def discard(self) -> None:
        """Remove the temporaries not published."""
        for tmp, _ in self.items:
            if tmp.exists():
                tmp.unlink()

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self.commit()
            except OSError as e:
                raise write_error(self.items[0][1] if self.items else "", self.what, e) from e
            return
        self.discard()
        if isinstance(exc, OSError):  # writing a temporary failed (disk full, permissions)
            raise write_error(exc.filename or "", self.what, exc) from exc


__all__ = ["PAUSE_ENV", "TABLE_SUFFIXES", "Staged", "atomic_dir", "atomic_path",
           "check_target", "check_targets", "frame_to", "glob_escape", "publish", "publish_dir",
           "remove_stale", "table_kind", "temp_path", "write_error", "write_table", "write_text"]
