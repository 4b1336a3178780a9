"""Optional dependencies: import them on use, and say which extra installs a missing one.

Only the out-of-core Dask engine needs an extra (``dist``: dask and distributed); a missing
module raises :class:`calib.core.errors.MissingDependencyError` (exit code 2 in the CLI) whose
message is the install command.

Examples
--------
>>> require("json", "reading JSON").__name__
'json'
>>> missing_extra(ModuleNotFoundError("No module named 'dask'", name="dask"))
'dist'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from calib.core.errors import MissingDependencyError

#: top-level module -> the calib extra that installs it
EXTRAS = {"dask": "dist", "distributed": "dist"}


def missing_extra(exc: ImportError) -> str | None:
    """The extra that installs the module ``exc`` failed to import (None: not an extra's)."""
    name = (exc.name or "").split(".")[0]
    return EXTRAS.get(name)


def install_hint(module: str, what: str) -> str:
    """The message of a missing optional module: what needs it and the pip command.

    >>> install_hint("dask", "--engine dask")
    '--engine dask needs dask, which is not installed: pip install "calib[dist]"'
    """
    extra = EXTRAS.get(module.split(".")[0])
    fix = f'pip install "calib[{extra}]"' if extra else f"pip install {module.split('.')[0]}"
    return f"{what} needs {module.split('.')[0]}, which is not installed: {fix}"


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` with the install command.

    Parameters
    ----------
    module : the module to import (``"dask.dataframe"``, ``"distributed"``).
    what : the feature that needs it, for the message (``"--engine dask"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(install_hint(exc.name or module, what)) from exc


__all__ = ["EXTRAS", "install_hint", "missing_extra", "require"]
