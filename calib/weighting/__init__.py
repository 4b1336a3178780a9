"""Weighting methods, one module each, one call shape, registered by name.

>>> from calib.weighting import available, method
>>> "rake" in available(), method("rake").out_of_core
(True, True)
"""

from calib.weighting.registry import (
    available,
    get,
    kind,
    method,
    register,
)

__all__ = ["available", "get", "kind", "method", "register"]
