"""Electoral-college forecasts from state estimates, with correlated state errors.

Input is either posterior draws per state (from MRP: long ``domain|state, draw, estimate``) or
point estimates with standard errors (from weighting: ``domain|state, estimate, se``), of the
Democratic two-party share (``republican=True`` flips Republican shares). Each simulation draws
every state's share and adds one **national swing** shared by all states, so state errors are
correlated (``national_sd``, default 0.02 on the two-party share; 0 turns it off). A state is won
with a share above 0.5; a simulated share of exactly 0.5 splits the state's votes evenly in
expectation by a fair coin. Maine and Nebraska are winner-take-all at large unless district
estimates are given (then the two at-large votes follow the state, one vote per district).

Which variance a forecast includes: the state estimates' own (sampling / weighting /
posterior), plus the national swing when ``national_sd > 0`` (a stand-in for shared
non-sampling error: response bias, turnout, late swing). Not included: error in the
electoral-vote apportionment (none) or faithless electors.

Examples
--------
>>> import pandas as pd
>>> from calib.data.variables import STATES
>>> est = pd.DataFrame({"state": STATES, "estimate": 0.55, "se": 0.01})
>>> f = forecast(est, 2024, seed=1, draws=2000)
>>> f.p_dem_win > 0.9
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.data.datasets import election_results, electoral_votes
from calib.data.output import check_target, write_text
from calib.data.tables import read_table, to_numeric
from calib.data.variables import STATES

DISTRICTS = {"ME": ("ME-1", "ME-2"), "NE": ("NE-1", "NE-2", "NE-3")}


@dataclass(frozen=True)
class Forecast:
    """An electoral-college forecast.

    Attributes
    ----------
    year : election year (sets the electoral-vote apportionment).
    states : per state (50 + DC; districts appended when given): ``state, electoral_votes,
        estimate`` (mean Democratic two-party share), ``se``, ``ci_low``, ``ci_high``,
        ``p_dem``, ``filled`` (True where the state was filled in, not estimated).
    ev_draws : simulated Democratic electoral votes, one per simulation.
    popular_draws : simulated national Democratic two-party share (states weighted by their
        two-party votes in the previous presidential election).
    level : interval level of ``ci_low``/``ci_high``.
    options : the settings used (national_sd, draws, seed, fills).
    """

    year: int
    states: pd.DataFrame
    ev_draws: np.ndarray
    popular_draws: np.ndarray
    level: float = 0.9
    options: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        # the dataclass repr would print every draw
        ev = self.ev_summary()
        pv = self.popular_vote()
        filled = int(self.states["filled"].sum()) if "filled" in self.states else 0
        pct = f"{self.level:.0%}"
        return (f"<Forecast {self.year}: P(Dem win)={self.p_dem_win:.3f}, Dem EV mean "
                f"{ev['mean']:.1f} ({pct} {ev['ci_low']:.0f}-{ev['ci_high']:.0f}), popular "
                f"{pv['dem_two_party_share']:.3f} ({pct} {pv['ci_low']:.3f}-{pv['ci_high']:.3f}), "
                f"{len(self.states)} states ({filled} filled in), {self.ev_draws.size} draws>")

    def _repr_html_(self) -> str:
        from calib.election.plots import forecast_html

        return forecast_html(self)

    def plot(self) -> Any:
        """A matplotlib Figure: the electoral-vote distribution and the state intervals.

        See :func:`calib.election.plots.plot_forecast`.
        """
        from calib.election.plots import plot_forecast

        return plot_forecast(self)

    @property
    def p_dem_win(self) -> float:
        """P(Democratic candidate gets at least 270 electoral votes)."""
        return float(np.mean(self.ev_draws >= 270))

    @property
    def p_tie(self) -> float:
        """P(269-269) — decided by the House, not modelled."""
        return float(np.mean(self.ev_draws == 269))

    @property
    def p_rep_win(self) -> float:
        return float(np.mean(self.ev_draws <= 268))

    @property
    def ev_mean(self) -> float:
        return float(self.ev_draws.mean())

    def ev_summary(self) -> dict:
        a = (1 - self.level) / 2
        q = np.quantile(self.ev_draws, [a, 0.5, 1 - a])
        return {
            "mean": self.ev_mean,
            "median": float(q[1]),
            "ci_low": float(q[0]),
            "ci_high": float(q[2]),
            "level": self.level,
            "p_dem_win": self.p_dem_win,
            "p_rep_win": self.p_rep_win,
            "p_tie": self.p_tie,
            "histogram": {int(k): int(v) for k, v in zip(*np.unique(self.ev_draws, return_counts=True), strict=True)},
        }

    def popular_vote(self) -> dict:
        a = (1 - self.level) / 2
        q = np.quantile(self.popular_draws, [a, 1 - a])
        return {
            "dem_two_party_share": float(self.popular_draws.mean()),
            "ci_low": float(q[0]),
            "ci_high": float(q[1]),
            "level": self.level,
        }

    def to_dict(self) -> dict:
        st = self.states.copy()
        return {
            "year": self.year,
            "level": self.level,
            "p_dem_win": self.p_dem_win,
            "p_rep_win": self.p_rep_win,
            "p_tie": self.p_tie,
            "electoral_votes": self.ev_summary(),
            "popular_vote": self.popular_vote(),
            "states": json.loads(st.to_json(orient="records")),
            "options": self.options,
            "ev_draws": self.ev_draws.astype(int).tolist(),
            "popular_draws": np.round(self.popular_draws, 6).tolist(),
        }

    def write(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the forecast as JSON (refuses to overwrite unless asked)."""
        path = check_target(path, overwrite, "forecast", kind=None)
        return write_text(json.dumps(self.to_dict(), indent=1), path, overwrite=overwrite,
                          what="forecast")

    @classmethod
    def read(cls, path: str | Path) -> Forecast:
        """Read a forecast written by :meth:`write`; anything else (not JSON, empty, a
        folder, missing keys) is a :class:`DataError` naming the file."""
        p = Path(path)
        if not p.is_file():
            raise DataError(f"FORECAST {str(p)!r} is not a file; give the FORECAST.json that "
                            "calib forecast wrote")
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"FORECAST {str(p)!r} is not JSON ({err}); give the FORECAST.json "
                            "that calib forecast wrote") from None
        keys = ("year", "states", "ev_draws", "popular_draws", "level")
        lacks = [k for k in keys if not isinstance(d, dict) or k not in d]
        if lacks:
            raise DataError(f"FORECAST {str(p)!r} lacks the keys {lacks}; give the "
                            "FORECAST.json that calib forecast wrote")
        try:
            f = cls._from_dict(d)
            need = [c for c in ("state", "estimate", "p_dem") if c not in f.states.columns]
            if need:
                raise ValueError(f"its states lack the columns {need}")
            return f
        except (TypeError, ValueError, KeyError) as err:
            raise DataError(f"FORECAST {str(p)!r} has a malformed value ({err}); give the "
                            "FORECAST.json that calib forecast wrote") from None

    @classmethod
    def _from_dict(cls, d: dict) -> Forecast:
        return cls(
            year=int(d["year"]),
            states=pd.DataFrame(d["states"]),
            ev_draws=np.asarray(d["ev_draws"], dtype=int),
            popular_draws=np.asarray(d["popular_draws"], dtype=float),
            level=float(d["level"]),
            options=d.get("options", {}),
        )


def read_state_estimates(data: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Normalize an estimates table to ``state, estimate, se`` or ``state, draw, estimate``.

    Accepts the output of ``calib estimate``/``mrp``/``hybrid`` with ``by=state`` (the
    ``domain`` column holds the state), a plain ``state, estimate, se`` table, or long draws.
    """
    if not isinstance(data, pd.DataFrame):
        data = read_table(data, "estimates file")
        # CSV is read as text: the number columns become numbers, as `calib forecast` does
        for col in ("estimate", "se", "draw"):
            if col in data.columns:
                data[col] = to_numeric(data, col, "estimates file")
    df = data.copy()
    if "state" not in df.columns:
        df = _state_from_domain(df)
    if "level" in df.columns and df["level"].astype(str).nunique() > 1:
        raise DataError(
            "estimates hold several outcome levels "
            f"{sorted(df['level'].astype(str).unique())[:5]}; keep the Democratic share's level only"
        )
    if "estimate" not in df.columns:
        raise DataError("estimates need an 'estimate' column")
    df["state"] = df["state"].astype(str).str.strip().str.upper()
    if "draw" in df.columns:
        return df[["state", "draw", "estimate"]]
    if "se" not in df.columns:
        raise DataError("point estimates need an 'se' column (or give long draws with 'draw')")
    out = df[["state", "estimate", "se"]]
    dup = out["state"][out["state"].duplicated()].unique()
    if len(dup):
        raise DataError(f"states given more than once: {list(dup)}")
    return out


def _state_from_domain(df: pd.DataFrame) -> pd.DataFrame:
    """``calib estimate --by state`` output: the ``domain`` column becomes ``state``."""
    if "domain" not in df.columns:
        raise DataError(
            "estimates need a 'state' column (USPS code) or a 'domain' column from "
            f"`--by state`; got columns {list(df.columns)}"
        )
    if "by" in df.columns:
        bys = set(df["by"].dropna().astype(str)) - {""}
        if bys and bys != {"state"}:
            raise DataError(f"estimates are by {sorted(bys)}, not by state; re-run with --by state")
        df = df[df["by"].astype(str) == "state"] if bys else df
    return df.rename(columns={"domain": "state"})

def _previous_results(year: int) -> pd.DataFrame | None:
    for y in (year - 4, year - 8):
        try:
            return election_results(y)
        except DataError:
            continue
    return None


#: Most simulations of one forecast (a (draws x 51) matrix: 1e6 draws is ~400 MB).
MAX_DRAWS = 1_000_000


def check_simulation(national_sd: float, draws: int) -> None:
    """Refuse a national swing sd that is negative or not finite, and ``draws`` outside
    1 .. :data:`MAX_DRAWS`.

    >>> check_simulation(0.02, 1000)
    >>> check_simulation(-0.02, 1000)
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: national_sd=-0.02 (--national-sd): the sd of the national swing must be a finite number >= 0, e.g. 0.02
    """
    if not (isinstance(national_sd, int | float) and np.isfinite(national_sd)
            and national_sd >= 0):
        raise DataError(f"national_sd={national_sd!r} (--national-sd): the sd of the national "
                        "swing must be a finite number >= 0, e.g. 0.02")
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or not (
            1 <= draws <= MAX_DRAWS):
        raise DataError(f"draws={draws!r} (--draws): give a whole number of simulations from 1 "
                        f"to {MAX_DRAWS:,} (e.g. 20000)")


def check_shares(est: pd.DataFrame) -> None:
    """Refuse state estimates (two-party shares) or se outside [0, 1] or not finite, naming
    the state and the value (percentages: divide by 100)."""
    checks = [("estimate", lambda v: np.isfinite(v) & (v >= 0) & (v <= 1))]
    if "se" in est.columns:
        checks.append(("se", lambda v: np.isfinite(v) & (v >= 0)))
    for col, ok in checks:
        values = pd.to_numeric(est[col], errors="coerce").to_numpy(dtype=float)
        bad = ~ok(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            hint = ("; percentages? divide by 100" if col == "estimate" and np.isfinite(values[i])
                    and 1 < values[i] <= 100 else "")
            raise DataError(
                f"state {est['state'].iloc[i]!r}: {col} {values[i]:g} is not a two-party "
                f"share in [0, 1]{hint} ({int(bad.sum())} such rows)" if col == "estimate" else
                f"state {est['state'].iloc[i]!r}: se {values[i]:g} must be a finite "
                f"number >= 0 ({int(bad.sum())} such rows)")


def forecast(
    state_estimates: pd.DataFrame | str | Path,
    year: int,
    *,
    republican: bool = False,
    national_sd: float = 0.02,
    draws: int = 20000,
    seed: int | None = None,
    level: float = 0.9,
    fill_missing: str | None = None,
    fill_se: float = 0.05,
    districts: pd.DataFrame | None = None,
) -> Forecast:
    """Simulate the electoral college from state estimates.

    Parameters
    ----------
    state_estimates : point estimates with ``se`` or long posterior draws (see
        :func:`read_state_estimates`), of the Democratic two-party share.
    year : election year; electoral votes follow that year's apportionment.
    republican : the estimates are Republican two-party shares (flipped to Democratic).
    national_sd : sd of the national swing added to every state in a simulation.
    draws : number of simulations (posterior draws are resampled to this number).
    seed : random seed.
    level : interval level for state intervals and EV/popular-vote summaries.
    fill_missing : ``None`` (a missing state is an error naming it) or ``"previous"`` (the
        previous presidential election's certified two-party share with sd ``fill_se``;
        the fill is reported in ``states.filled`` and ``options['filled']``).
    districts : optional ``district, estimate, se`` for ME-1, ME-2, NE-1, NE-2, NE-3: then
        ME and NE give 2 at-large votes by the state result and 1 per district.

    Returns
    -------
    Forecast
    """
    if not 0 < level < 1:
        raise DataError(f"level={level}: give a probability between 0 and 1")
    check_simulation(national_sd, draws)
    est = read_state_estimates(state_estimates)
    check_shares(est)
    rng = np.random.default_rng(seed)
    ev = electoral_votes(year).reindex(list(STATES))
    if ev.isna().any() or int(ev.sum()) != 538:
        raise DataError(f"electoral votes for {year} do not sum to 538; check the shipped data")
    unknown = sorted(set(est["state"]) - set(STATES))
    if unknown:
        raise DataError(f"unknown state codes {unknown}; use USPS codes of the 50 states and DC")
    filled, prev = _filled_states(est, year, fill_missing)
    sims = _state_draws(est, rng, draws, republican)  # (draws, 51)
    for s, mu in filled.items():
        j = STATES.index(s)
        sims[:, j] = mu + fill_se * rng.standard_normal(draws)
    swing = national_sd * rng.standard_normal(draws) if national_sd > 0 else np.zeros(draws)
    sims += swing[:, None]
    win = (sims > 0.5) + 0.5 * (sims == 0.5)
    coin = rng.random(sims.shape) < win  # ties (exactly 0.5) by a fair coin
    evv = ev.to_numpy(dtype=int)
    ev_at_large = evv.copy()
    extra = np.zeros(draws)
    drows: list[tuple] = []
    if districts is not None:
        extra, drows = _district_draws(districts, rng, swing, republican)
        for st in DISTRICTS:
            ev_at_large[STATES.index(st)] = 2
    ev_draws = (coin * ev_at_large).sum(axis=1) + extra
    prev = prev if prev is not None else _previous_results(year)
    pv_w = _popular_weights(prev, evv)
    popular = sims @ (pv_w / pv_w.sum())
    states = _states_table(sims, coin, evv, filled, level)
    if drows:
        states = pd.concat(
            [
                states,
                pd.DataFrame(drows, columns=["state", "electoral_votes", "estimate", "se", "p_dem"]).assign(
                    filled=False
                ),
            ],
            ignore_index=True,
        )
    opts = {
        "national_sd": national_sd,
        "draws": draws,
        "seed": seed,
        "republican": republican,
        "input": "draws" if "draw" in est.columns else "estimate+se",
        "filled": filled,
        "fill_se": fill_se if filled else None,
        "districts": districts is not None,
        "popular_vote_weights": f"two-party votes of {int(prev['year'].iloc[0])}" if prev is not None else "electoral votes",
    }
    return Forecast(int(year), states, ev_draws.astype(int), popular, level, opts)


def _filled_states(
    est: pd.DataFrame, year: int, fill_missing: str | None
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """The missing states' fill values (previous two-party share) and the previous results
    read for them (None when nothing is missing)."""
    present = set(est["state"])
    missing = [s for s in STATES if s not in present]
    if not missing:
        return {}, None
    if fill_missing is None:
        raise DataError(
            f"states missing from the estimates: {missing}. All 50 states and DC are needed; "
            "estimate them, or fill explicitly with fill_missing='previous' (--fill-missing previous)"
        )
    if fill_missing != "previous":
        raise DataError(f"fill_missing={fill_missing!r}: use 'previous' or None")
    prev = _previous_results(year)
    if prev is None:
        raise DataError(f"no previous election before {year} to fill {missing} from")
    pshare = prev.set_index("state_po")["dem_two_party_share"]
    return {s: float(pshare[s]) for s in missing}, prev


def _state_draws(
    est: pd.DataFrame, rng: np.random.Generator, draws: int, republican: bool
) -> np.ndarray:
    """(draws, 51) Democratic shares: resampled posterior draws, or normal around estimate
    with sd se; columns of states absent from ``est`` are left unset (filled by the caller)."""
    sims = np.empty((draws, len(STATES)))
    if "draw" in est.columns:
        wide = est.pivot_table(index="draw", columns="state", values="estimate", aggfunc="first")
        pick = rng.integers(0, len(wide), draws)
        for j, s in enumerate(STATES):
            if s in wide.columns:
                col = wide[s].to_numpy()
                if np.isnan(col).any():
                    raise DataError(f"state {s}: draws are missing for some draw ids")
                v = col[pick]
                sims[:, j] = 1 - v if republican else v
        return sims
    e = est.set_index("state")
    for j, s in enumerate(STATES):
        if s in e.index:
            mu, sd = float(cast(float, e.at[s, "estimate"])), float(cast(float, e.at[s, "se"]))
            if not (np.isfinite(mu) and np.isfinite(sd) and sd >= 0):
                raise DataError(f"state {s}: estimate/se must be finite, se >= 0")
            mu = 1 - mu if republican else mu
            sims[:, j] = mu + sd * rng.standard_normal(draws)
    return sims


def _district_draws(
    districts: pd.DataFrame, rng: np.random.Generator, swing: np.ndarray, republican: bool
) -> tuple[np.ndarray, list[tuple]]:
    """Electoral votes won in the ME/NE districts per simulation, and one summary row per
    district (``district, 1, mean, sd, p_dem``)."""
    d = districts.copy()
    d["district"] = d["district"].astype(str).str.upper()
    need = [x for v in DISTRICTS.values() for x in v]
    lacking = [x for x in need if x not in set(d["district"])]
    if lacking:
        raise DataError(f"district estimates lack {lacking}; give all of ME-1, ME-2, NE-1..NE-3")
    extra = np.zeros(swing.shape[0])
    drows = []
    for dists in DISTRICTS.values():
        for dist in dists:
            r = d.set_index("district").loc[dist]
            mu = 1 - r["estimate"] if republican else r["estimate"]
            sh = mu + float(r["se"]) * rng.standard_normal(swing.shape[0]) + swing
            won = sh > 0.5
            extra += won
            drows.append((dist, 1, float(sh.mean()), float(sh.std()), float(won.mean())))
    return extra, drows


def _popular_weights(prev: pd.DataFrame | None, evv: np.ndarray) -> np.ndarray:
    """State weights of the popular vote: the previous election's two-party votes, else the
    electoral votes."""
    pv_w = None
    if prev is not None:
        p = prev.set_index("state_po")
        pv_w = (p["dem_votes"] + p["rep_votes"]).reindex(list(STATES)).to_numpy(dtype=float)
    if pv_w is None or np.isnan(pv_w).any():
        pv_w = evv.astype(float)
    return pv_w


def _states_table(
    sims: np.ndarray, coin: np.ndarray, evv: np.ndarray, filled: dict[str, float], level: float
) -> pd.DataFrame:
    a = (1 - level) / 2
    lo, hi = np.quantile(sims, [a, 1 - a], axis=0)
    return pd.DataFrame(
        {
            "state": STATES,
            "electoral_votes": evv,
            "estimate": sims.mean(axis=0),
            "se": sims.std(axis=0, ddof=1),
            "ci_low": lo,
            "ci_high": hi,
            "p_dem": coin.mean(axis=0),
            "filled": [s in filled for s in STATES],
        }
    )
