"""Figures and the notebook view of a :class:`calib.election.forecast.Forecast`.

matplotlib is imported inside the functions (importing calib stays light).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from calib.data.variables import STATES
>>> from calib.election.forecast import forecast
>>> f = forecast(pd.DataFrame({"state": STATES, "estimate": 0.52, "se": 0.02}), 2024,
...              seed=1, draws=500)
>>> [a.get_title() for a in plot_forecast(f).axes][0]
'Democratic electoral votes, 2024'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calib.core.html import html_block, html_table


def plot_forecast(f: Any) -> Any:
    """A Figure with two axes: the histogram of simulated Democratic electoral votes (270
    marked) and every state's estimate with its interval (sorted; filled-in states hollow).

    Parameters
    ----------
    f : the forecast.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    st = f.states.sort_values("estimate").reset_index(drop=True)
    fig = Figure(figsize=(10, max(5.0, 0.16 * len(st) + 1.0)), layout="constrained")
    ax_ev, ax_st = fig.subplots(1, 2, width_ratios=[1.2, 1])
    ev = f.ev_draws.astype(int)
    ax_ev.hist(ev, bins=np.arange(ev.min(), ev.max() + 2) - 0.5 if ev.size else 10,
               color="C0", alpha=0.85)
    ax_ev.axvline(269.5, color="0.3", ls="--", lw=1)
    ax_ev.set_xlabel("Democratic electoral votes")
    ax_ev.set_ylabel("simulations")
    ax_ev.set_title(f"Democratic electoral votes, {f.year}")
    ax_ev.text(0.02, 0.95, f"P(Dem win) = {f.p_dem_win:.2f}", transform=ax_ev.transAxes,
               va="top")
    y = np.arange(len(st))
    filled = st["filled"].to_numpy(bool) if "filled" in st else np.zeros(len(st), bool)
    lo = (st["estimate"] - st["ci_low"]).to_numpy(float)
    hi = (st["ci_high"] - st["estimate"]).to_numpy(float)
    ax_st.errorbar(st["estimate"], y, xerr=[lo, hi], fmt="none", ecolor="0.6", lw=1)
    ax_st.scatter(st["estimate"][~filled], y[~filled], s=12, color="C0", label="estimated")
    if filled.any():
        ax_st.scatter(st["estimate"][filled], y[filled], s=14, facecolors="none",
                      edgecolors="C3", label="filled in")
    ax_st.axvline(0.5, color="0.3", ls="--", lw=1)
    ax_st.set_yticks(y, st["state"].astype(str).tolist(), fontsize=6)
    ax_st.set_xlabel(f"Democratic two-party share ({f.level:.0%} interval)")
    ax_st.set_title("State estimates")
    ax_st.legend(frameon=False, fontsize=7, loc="lower right")
    return fig


def forecast_html(f: Any) -> str:
    """The notebook view: the headline numbers and the ten closest states."""
    ev = f.ev_summary()
    pv = f.popular_vote()
    pct = f"{f.level:.0%}"
    facts = [("year", f.year), ("P(Dem win)", f"{f.p_dem_win:.3f}"),
             ("Dem EV", f"{ev['mean']:.1f} ({pct}: {ev['ci_low']:.0f}-{ev['ci_high']:.0f})"),
             ("popular (Dem two-party)",
              f"{pv['dem_two_party_share']:.3f} ({pct}: {pv['ci_low']:.3f}-{pv['ci_high']:.3f})"),
             ("draws", f.ev_draws.size)]
    st = f.states.assign(margin=(f.states["estimate"] - 0.5).abs()).nsmallest(10, "margin")
    rows = [[r["state"], int(r["electoral_votes"]), f"{r['estimate']:.3f}",
             f"{r['ci_low']:.3f}-{r['ci_high']:.3f}", f"{r['p_dem']:.2f}",
             "yes" if bool(r.get("filled", False)) else ""] for _, r in st.iterrows()]
    table = html_table(["closest states", "EV", "estimate", f"{pct} interval", "P(Dem)",
                        "filled in"], rows)
    return html_block(f"calib Forecast {f.year}", facts, table)


__all__ = ["plot_forecast", "forecast_html"]
