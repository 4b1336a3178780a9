"""Registry of weighting methods by name.

Adding a method is adding a module with one function of the shared call shape and one line
here. Entries are resolved lazily so that naming a method (CLI help, study files) does not
import heavy dependencies (cvxpy for ``optimal``).

Call shapes: calibration methods ``(sample, targets, **options) -> Sample``; ``propensity``
``(sample, reference, **options) -> Sample``; ``trim`` ``(sample, **options) -> Sample``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from calib.core.errors import CalibError

#: name -> (module, function, kind); kind is "targets", "reference" or "none".
METHODS: dict[str, tuple[str, str, str]] = {
    "poststratify": ("calib.weighting.poststratify", "poststratify", "targets"),
    "rake": ("calib.weighting.rake", "rake", "targets"),
    "calibrate": ("calib.weighting.calibrate", "calibrate", "targets"),
    "optimal": ("calib.weighting.optimal", "optimal", "targets"),
    "propensity": ("calib.weighting.propensity", "propensity", "reference"),
    "trim": ("calib.weighting.trim", "trim", "none"),
}


def available() -> list[str]:
    """Names of the registered methods."""
    return list(METHODS)


def kind(name: str) -> str:
    """What the method takes besides the sample: ``targets``, ``reference`` or ``none``."""
    return _entry(name)[2]


def get(name: str) -> Callable:
    """The method's function, imported on first use."""
    mod, fn, _ = _entry(name)
    return getattr(import_module(mod), fn)


def _entry(name: str) -> tuple[str, str, str]:
    try:
        return METHODS[name]
    except KeyError:
        raise CalibError(
            f"unknown weighting method {name!r}; choose one of {', '.join(METHODS)}"
        ) from None


def register(name: str, module: str, function: str, kind: str = "targets") -> None:
    """Register a method implemented in ``module.function``."""
    METHODS[name] = (module, function, kind)
