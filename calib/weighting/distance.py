"""Calibration distance functions (Deville & Särndal 1992), as small objects.

Each distance is given, as in R survey's ``grake.R``, by two functions of ``u = x'eta``:

* ``Fm1(u, bounds)``: ``g - 1``, the adjustment factor minus one (the inverse of the
  derivative of the distance, shifted);
* ``dF(u, bounds)``: its derivative in ``u`` (zero where a bound binds).

``bounds = (L, U)`` bound ``g`` (output weight / input weight).

========== ======================================== =========================================
name       g = 1 + Fm1(u)                           R survey
========== ======================================== =========================================
linear     ``1 + u`` (clipped to bounds if given)   ``calfun="linear"`` (GREG)
truncated  ``1 + u`` clipped to finite ``(L, U)``   ``calfun="linear"`` with ``bounds``
raking     ``exp(u)`` (clipped to bounds if given)  ``calfun="raking"``
logit      logistic between ``L`` and ``U``         ``calfun="logit"`` (finite bounds)
========== ======================================== =========================================

Examples
--------
>>> import numpy as np
>>> d = get("logit")
>>> g = 1 + d.Fm1(np.array([-50.0, 0.0, 50.0]), (0.5, 2.0))
>>> np.round(g, 6).tolist()
[0.5, 1.0, 2.0]
>>> float(get("raking").Fm1(np.array([np.log(2.0)]), (-np.inf, np.inf))[0])
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from calib.core.errors import DataError

Bounds = tuple[float, float]


@dataclass(frozen=True)
class Distance:
    """A calibration distance: ``g = 1 + Fm1(u, bounds)`` and ``dF = d Fm1 / du``.

    Attributes
    ----------
    name : the distance's name (``linear``, ``truncated``, ``raking``, ``logit``).
    Fm1 : ``(u, bounds) -> g - 1``.
    dF : ``(u, bounds) -> derivative of Fm1``.
    needs_bounds : True when the distance is only defined with finite bounds.
    """

    name: str
    Fm1: Callable[[np.ndarray, Bounds], np.ndarray]
    dF: Callable[[np.ndarray, Bounds], np.ndarray]
    needs_bounds: bool = False


def _lin_F(u: np.ndarray, b: Bounds) -> np.ndarray:
    return np.minimum(np.maximum(u + 1.0, b[0]), b[1]) - 1.0


def _lin_dF(u: np.ndarray, b: Bounds) -> np.ndarray:
    return ((u < b[1] - 1.0) & (u > b[0] - 1.0)).astype(float)


def _rak_F(u: np.ndarray, b: Bounds) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.minimum(np.maximum(np.exp(u), b[0]), b[1]) - 1.0


def _rak_dF(u: np.ndarray, b: Bounds) -> np.ndarray:
    inside = (u < b[1] - 1.0) & (u > b[0] - 1.0)
    with np.errstate(over="ignore"):
        return np.where(inside, np.exp(u), 0.0)


def _logit_parts(u: np.ndarray, b: Bounds) -> tuple[float, float, float, np.ndarray]:
    L, U = b
    A = (U - L) / ((U - 1.0) * (1.0 - L))
    with np.errstate(over="ignore"):
        eAu = np.exp(A * u)
    return L, U, A, eAu


def _logit_F(u: np.ndarray, b: Bounds) -> np.ndarray:
    L, U, A, eAu = _logit_parts(u, b)
    with np.errstate(over="ignore", invalid="ignore"):
        g = (L * (U - 1.0) + U * (1.0 - L) * eAu) / (U - 1.0 + (1.0 - L) * eAu)
    # exp overflow gives inf/inf; the limit is U (as R would give NaN, we give the limit)
    g = np.where(np.isinf(eAu), U, g)
    return g - 1.0


def _logit_dF(u: np.ndarray, b: Bounds) -> np.ndarray:
    L, U, A, eAu = _logit_parts(u, b)
    with np.errstate(over="ignore", invalid="ignore"):
        den = U - 1.0 + (1.0 - L) * eAu
        d = U * (1.0 - L) * eAu * A / den - (
            (L * (U - 1.0) + U * (1.0 - L) * eAu) * ((1.0 - L) * eAu * A)
        ) / den**2
    return np.where(np.isinf(eAu), 0.0, d)


DISTANCES: dict[str, Distance] = {
    "linear": Distance("linear", _lin_F, _lin_dF),
    "truncated": Distance("truncated", _lin_F, _lin_dF, needs_bounds=True),
    "raking": Distance("raking", _rak_F, _rak_dF),
    "logit": Distance("logit", _logit_F, _logit_dF, needs_bounds=True),
}


def get(name: str | Distance) -> Distance:
    """The distance called ``name`` (or ``name`` itself when it is a :class:`Distance`).

    Examples
    --------
    >>> get("linear").name
    'linear'
    """
    if isinstance(name, Distance):
        return name
    try:
        return DISTANCES[name]
    except KeyError:
        raise DataError(
            f"distance={name!r} is not a calibration distance; choose one of "
            f"{', '.join(DISTANCES)} or pass a calib.weighting.distance.Distance"
        ) from None


def bound_pair(bounds: Bounds | tuple[float, float], what: str | None = None) -> Bounds:
    """Validate given bounds ``(L, U)`` on g = output/input weight: ``0 <= L < 1 < U``.

    The one rule of every method and path (calibrate, optimal, out of core, ``--bounds``):
    weights stay >= 0 and g = 1 (no change) is allowed; ``U`` may be ``inf``. The pair
    ``(-inf, inf)``, which a step records when it had no bounds (and persistence replays), is
    accepted as "no bounds".

    Parameters
    ----------
    bounds : two numbers.
    what : how the message names them (default ``bounds=(L, U)``; the CLI: ``--bounds L U``).

    Examples
    --------
    >>> bound_pair((0.5, 2))
    (0.5, 2.0)
    >>> bound_pair((-1, 2))
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: bounds=(-1, 2): bounds on g = output/input weight need 0 <= L < 1 < U, i.e. 0 <= lower < 1 < upper (e.g. bounds=(0.5, 2))
    """
    what = what or f"bounds={bounds!r}"
    try:
        L, U = (float(x) for x in bounds)
    except (TypeError, ValueError):
        raise DataError(f"{what}: give two numbers (lower, upper) on g") from None
    if L == -np.inf and U == np.inf:
        return L, U
    if not 0.0 <= L < 1.0 < U:  # False for NaN too
        raise DataError(
            f"{what}: bounds on g = output/input weight need 0 <= L < 1 < U, i.e. "
            "0 <= lower < 1 < upper (e.g. bounds=(0.5, 2))"
        )
    return L, U


def check_bounds(distance: Distance, bounds: Bounds | None) -> Bounds:
    """Validate ``bounds`` on g for ``distance``; returns ``(L, U)`` as floats.

    The rule is :func:`bound_pair`'s; None gives ``(-inf, inf)``.

    Examples
    --------
    >>> check_bounds(get("linear"), None)
    (-inf, inf)
    """
    L, U = (-np.inf, np.inf) if bounds is None else bound_pair(bounds)
    if distance.needs_bounds and not (np.isfinite(L) and np.isfinite(U)):
        raise DataError(
            f"distance {distance.name!r} needs finite bounds=(lower, upper) on g, got {bounds!r}; "
            "e.g. bounds=(0.5, 2), or use distance='linear' / 'raking' without bounds"
        )
    return L, U


__all__ = ["Distance", "DISTANCES", "get", "bound_pair", "check_bounds", "Bounds"]
