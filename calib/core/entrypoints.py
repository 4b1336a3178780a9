"""Implementations that core objects call by name, imported when first called.

``core`` is the bottom layer and imports nothing above it, yet ``Sample.rake``,
``Sample.estimate`` and ``Sample.diagnostics`` are the public API. Each such method names its
implementation here as a ``"module:attribute"`` string (``"module"`` alone for a module) that
:func:`load` imports on call, the way ``calib._LAZY`` serves names: the static import graph keeps
pointing down (import-linter sees no cycle), and the layers above are loaded only when used.

Examples
--------
>>> sorted(ENTRY_POINTS)
['diagnostics', 'estimate', 'weighting']
>>> load("weighting").__name__
'calib.weighting.registry'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from calib.core.errors import CalibError

#: name -> ``"module:attribute"`` (or ``"module"``) of what the core objects dispatch to.
ENTRY_POINTS: dict[str, str] = {
    # the weighting methods by name (``get(method)``, ``kind(method)``)
    "weighting": "calib.weighting.registry",
    "diagnostics": "calib.weighting.diagnostics:summary",
    "estimate": "calib.estimation:estimate",
}


def load(name: str) -> Any:
    """Import and return the implementation registered as ``name`` in :data:`ENTRY_POINTS`.

    Parameters
    ----------
    name : a key of :data:`ENTRY_POINTS`.

    Returns
    -------
    Any
        The module, or the attribute after ``:``.

    Examples
    --------
    >>> load("estimate").__name__
    'estimate'
    >>> load("nope")
    Traceback (most recent call last):
    ...
    calib.core.errors.CalibError: no entry point 'nope'; known: diagnostics, estimate, weighting
    """
    try:
        target = ENTRY_POINTS[name]
    except KeyError:
        raise CalibError(f"no entry point {name!r}; known: {', '.join(sorted(ENTRY_POINTS))}") from None
    module, _, attr = target.partition(":")
    m = import_module(module)
    return getattr(m, attr) if attr else m
