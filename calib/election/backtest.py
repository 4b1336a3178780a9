"""Backtest a forecast against certified results shipped in data/.

Over the 50 states and DC, unweighted: ``rmse`` of the Democratic two-party share, ``bias`` =
mean(forecast - certified) (positive = leans D), ``winners_correct`` (states whose popular-vote
winner was called, by P(D) > 0.5), ``brier`` and ``log_score`` (mean log probability given to
the actual state winner, clipped at 1e-6) of P(D win), ``ev_error`` (expected D electoral votes
minus the D total from state winners, ME/NE at large), ``coverage`` of the state intervals at
their stated level.

Examples
--------
>>> import pandas as pd
>>> from calib.data.datasets import election_results
>>> from calib.election import forecast
>>> truth = election_results(2020)
>>> est = pd.DataFrame({"state": truth["state_po"], "estimate": truth["dem_two_party_share"],
...                     "se": 0.02})
>>> m = backtest(forecast(est, 2020, seed=0, draws=4000, national_sd=0.0), 2020)
>>> m["winners_correct"] >= 49, abs(m["bias"]) < 0.005
(True, True)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calib.core.errors import DataError
from calib.data.datasets import election_results
from calib.data.variables import STATES
from calib.election.forecast import Forecast


def backtest(forecast: Forecast | str | Path, year: int | None = None) -> dict:
    """Metrics of ``forecast`` against the certified results of ``year`` (default: its year)."""
    f = forecast if isinstance(forecast, Forecast) else Forecast.read(forecast)
    year = int(year if year is not None else f.year)
    cert = election_results(year).set_index("state_po").reindex(list(STATES))
    st = f.states.set_index("state").reindex(list(STATES))
    if st["estimate"].isna().any():
        raise DataError(f"forecast lacks states {list(st.index[st['estimate'].isna()])}")
    truth = cert["dem_two_party_share"].to_numpy(dtype=float)
    est = st["estimate"].to_numpy(dtype=float)
    p = st["p_dem"].to_numpy(dtype=float)
    dem_won = (cert["dem_votes"] > cert["rep_votes"]).to_numpy()
    err = est - truth
    p_clip = np.clip(p, 1e-6, 1 - 1e-6)
    ev = cert["electoral_votes"].to_numpy(dtype=float)
    actual_ev = float(ev[dem_won].sum())
    expected_ev = float((p * ev).sum())
    covered = (st["ci_low"].to_numpy() <= truth) & (truth <= st["ci_high"].to_numpy())
    return {
        "year": year,
        "states": len(STATES),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "bias": float(np.mean(err)),
        "winners_correct": int(np.sum((p > 0.5) == dem_won)),
        "brier": float(np.mean((p - dem_won) ** 2)),
        "log_score": float(np.mean(np.where(dem_won, np.log(p_clip), np.log(1 - p_clip)))),
        "ev_error": expected_ev - actual_ev,
        "ev_expected": expected_ev,
        "ev_actual": actual_ev,
        "coverage": float(np.mean(covered)),
        "level": f.level,
        "p_dem_win": f.p_dem_win,
        "dem_won": bool(actual_ev >= 270),
    }
