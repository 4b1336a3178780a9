"""Weighting methods, one module each, one call shape, registered by name.

>>> from calib.weighting import available
>>> "rake" in available()
True
"""

from calib.weighting.registry import (
    available,
    get,
    kind,
    register,
)

__all__ = ["available", "get", "kind", "register"]
