"""Errors raised by calib.

Every error names the variable, the level and the fix. The CLI maps them to exit codes:
2 for bad input, 3 for failed diagnostics or non-convergence.
"""

from __future__ import annotations


class CalibError(Exception):
    """Base class of every error calib raises on purpose."""

    exit_code: int = 2


class DataError(CalibError, ValueError):
    """The input data is unusable as given (missing values, NaN or negative weights, bad columns)."""


class UnmappedLevelError(DataError):
    """A value has no mapping onto the harmonized or target levels."""

    def __init__(self, message: str, unmapped: dict | None = None) -> None:
        super().__init__(message)
        self.unmapped = unmapped or {}


class TargetError(CalibError, ValueError):
    """Targets are malformed or disagree with each other or with the sample."""


class InfeasibleError(TargetError):
    """Constraints (margins, bounds) cannot be met together."""


class OutputExistsError(DataError, TargetError):
    """An output file exists and replacing it was not asked for (``overwrite=True`` /
    ``--overwrite``). A :class:`DataError`, and a :class:`TargetError` for callers of
    :meth:`calib.core.targets.Targets.write`, which raised that before."""


class ConvergenceError(CalibError, RuntimeError):
    """An iterative solver did not reach its tolerance."""

    exit_code = 3


class DiagnosticsError(CalibError, RuntimeError):
    """A fit failed its diagnostics gate (R-hat, ESS, divergences)."""

    exit_code = 3


class MissingFileError(DataError):
    """An input file does not exist: ``file not found: '<path>' (<what>); check the path``.

    >>> str(MissingFileError("x.csv", "INPUT"))
    "file not found: 'x.csv' (INPUT); check the path"
    """

    def __init__(self, path: object, what: str = "input file") -> None:
        super().__init__(f"file not found: {str(path)!r} ({what}); check the path")
        self.path = str(path)


class MissingDependencyError(CalibError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs
    it (see :func:`calib.core.optional.require`)."""


class MethodsFailedError(CalibError, RuntimeError):
    """Every method of a comparison or study failed (each one's reason is in its status):
    like non-convergence, the run produced no estimate, so it is not a success."""

    exit_code = 3


__all__ = [
    "CalibError",
    "MissingFileError",
    "MissingDependencyError",
    "DataError",
    "UnmappedLevelError",
    "TargetError",
    "InfeasibleError",
    "OutputExistsError",
    "ConvergenceError",
    "DiagnosticsError",
    "MethodsFailedError",
]
