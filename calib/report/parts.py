"""Build report parts from a forecast: anything shaped like :class:`~calib.election.Forecast`.

The report is built on core and data only (docs/design.md, Layout), so it reads a forecast
through :class:`ForecastLike`, the four plain fields it needs, instead of importing the model.

Examples
--------
>>> import pandas as pd
>>> from calib.election import forecast
>>> from calib.data.variables import STATES
>>> fc = forecast(pd.DataFrame({"state": STATES, "estimate": 0.52, "se": 0.02}), 2024,
...               seed=1, draws=500)
>>> d = from_forecast(fc, title="Flat 52%")
>>> len(d.states), d.ev_actual, d.ev_draws.size
(51, 226, 500)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.data.datasets import election_results
from calib.data.variables import STATES
from calib.report.data import ReportData


@runtime_checkable
class ForecastLike(Protocol):
    """What :func:`from_forecast` reads of a forecast (:class:`calib.election.Forecast` has it).

    Attributes
    ----------
    states : one row per state with columns ``state`` (postal code) and ``estimate``.
    ev_draws : simulated Democratic electoral votes, one per draw.
    options : the forecast's options (``national_sd`` names the shared swing).
    year : the election year (certified results are joined for it).
    """

    states: pd.DataFrame
    ev_draws: Any
    options: Mapping[str, Any]
    year: int


def ev_variance_text(options: dict) -> str:
    """Caption sentence: which variance a :func:`calib.election.forecast` EV distribution has."""
    sd = float(options.get("national_sd", 0.0) or 0.0)
    base = ("each state's estimate variance (sampling / weighting / posterior, as given to the "
            "forecast)")
    if sd > 0:
        return (f"{base} plus one national swing with sd {sd:.3f} on the two-party share, shared "
                "by all states (a stand-in for shared non-sampling error: response bias, "
                "turnout, late swing). Not included: other non-sampling error.")
    return (f"{base} only: no national swing (national_sd=0), so state errors are independent "
            "and the spread is likely too narrow.")


def from_forecast(forecast: ForecastLike, *, certified: bool = True, **parts: object) -> ReportData:
    """A :class:`ReportData` with the state map and EV histogram of ``forecast`` filled in.

    Parameters
    ----------
    forecast : a :class:`calib.election.Forecast` (or any :class:`ForecastLike`).
    certified : join the certified results of ``forecast.year`` (shipped data) as the
        map's ``certified`` column and the actual electoral votes (state winners at large);
        a year without shipped results raises DataError (pass ``certified=False``; the map
        then needs ``states`` given in ``parts``).
    **parts : any other :class:`ReportData` field (``title``, ``weights_after``, ``methods``,
        ...); ``states``/``ev_actual`` given here win over the derived ones.

    Returns
    -------
    ReportData
    """
    if not isinstance(forecast, ForecastLike):
        raise DataError(f"from_forecast needs a calib.election.Forecast (states, ev_draws, "
                        f"options, year), got {type(forecast).__name__}")
    st = forecast.states[forecast.states["state"].isin(STATES)][["state", "estimate"]]
    derived: dict[str, Any] = {
        "ev_draws": np.asarray(forecast.ev_draws, dtype=int),
        "ev_variance": ev_variance_text(dict(forecast.options)),
        "provenance": {"forecast year": forecast.year, "forecast options": forecast.options},
    }
    if certified:
        res = election_results(forecast.year)
        share = res.set_index("state_po")["dem_two_party_share"]
        st = st.assign(certified=st["state"].map(share).to_numpy(dtype=float))
        derived["ev_actual"] = int(res.loc[res["dem_votes"] > res["rep_votes"],
                                           "electoral_votes"].sum())
        derived["states"] = st.reset_index(drop=True)
    known = set(ReportData.__dataclass_fields__)
    unknown = sorted(set(parts) - known)
    if unknown:
        raise DataError(f"unknown report parts {unknown}; use fields of ReportData: "
                        f"{sorted(known)}")
    if "provenance" in parts and parts["provenance"] is not None:
        extra = cast(Mapping[str, Any], parts.pop("provenance"))
        derived["provenance"] = {**derived["provenance"], **dict(extra)}
    return replace(ReportData(), **{**derived, **parts})


__all__ = ["from_forecast", "ev_variance_text", "ForecastLike"]
