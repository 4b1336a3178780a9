"""Certified US presidential election results by state and nationally, 1976-2024.

Sources (see data/PROVENANCE.md): MIT Election Data and Science Lab "U.S. President
1976-2020" for 1976-2012; for 2016-2024 a state file derived from FiveThirtyEight's
``election_results_presidential.csv`` (all ballot lines of a candidate summed, CD rows left out).
Electoral votes come from the apportionment table shipped with calib (one column per census).

Examples
--------
>>> nat = election_results(2020, level="national")
>>> int(nat["dem_votes"].iloc[0]), int(nat["rep_votes"].iloc[0])
(81268924, 74216154)
>>> int(election_results(1984)["electoral_votes"].sum())
538
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.data.datasets._files import read_table
from calib.data.variables import STATES

#: Presidential election years calib ships.
YEARS: tuple[int, ...] = tuple(range(1976, 2025, 4))
_DERIVED_FROM = 2016  # 2016-2024 come from the FiveThirtyEight-derived file

#: Corrections applied to MEDSL rows, each checked against the FiveThirtyEight file (whose
#: ``source`` column cites the state's certified canvass); see data/PROVENANCE.md.
ERRATA: dict[tuple[int, str], dict[str, int]] = {
    # MEDSL has Bush 672,660 / Kerry 457,766; the Mississippi certified canvass (via 538) has
    # 684,981 / 458,094 and 1,152,145 votes in all. With it the national Bush total is within
    # 4 votes of the FEC's 62,040,610.
    (2004, "MS"): {"dem_votes": 458094, "rep_votes": 684981, "total_votes": 1152145},
}

COLUMNS = [
    "state_po", "state", "year", "dem_votes", "rep_votes", "other_votes", "total_votes",
    "dem_share", "rep_share", "dem_two_party_share", "electoral_votes", "winner",
    "dem_candidate", "rep_candidate",
]  # fmt: skip


def _check_year(year: int) -> int:
    try:
        y = int(year)
    except (TypeError, ValueError):
        y = None
    if y is None or y != year or y not in YEARS:
        raise DataError(
            f"no presidential election results for year {year!r}: calib ships the presidential "
            f"years {YEARS[0]}-{YEARS[-1]} ({', '.join(map(str, YEARS))}); pass one of them"
        )
    return y


def electoral_votes(year: int) -> pd.Series:
    """Electoral votes per state (USPS code, 50 states and DC) for a presidential ``year``.

    Apportionment by census: 1970 for 1972-1980, 1980 for 1984-1988, 1990 for 1992-2000,
    2000 for 2004-2008, 2010 for 2012-2020, 2020 for 2024-2028. Every year sums to 538.

    Examples
    --------
    >>> ev = electoral_votes(2024)
    >>> int(ev["TX"]), int(ev["CA"]), int(ev.sum())
    (40, 54, 538)
    """
    table = read_table("elections/electoral_votes_apportionment_1970_2020.csv")
    sel = table[(table["first_election"] <= year) & (table["last_election"] >= year)]
    if sel.empty:
        raise DataError(
            f"no electoral-vote apportionment for year {year!r}: the table covers "
            f"{table['first_election'].min()}-{table['last_election'].max()}"
        )
    return sel.set_index("state_po")["electoral_votes"].astype("int64").rename("electoral_votes")


def _medsl(year: int) -> pd.DataFrame:
    m = read_table("elections/medsl_president_state_1976_2020.parquet")
    m = m[m["year"] == year]
    out = {}
    for party, col in (("DEMOCRAT", "dem"), ("REPUBLICAN", "rep")):
        lines = m[m["party_simplified"] == party]
        nominee = lines.groupby("candidate")["candidatevotes"].sum().idxmax()
        # all ballot lines of the nominee (fusion lines such as NY Liberal count for them)
        votes = m[m["candidate"] == nominee].groupby("state_po")["candidatevotes"].sum()
        out[f"{col}_votes"] = votes
        out[f"{col}_candidate"] = nominee
    total = m.groupby("state_po")["totalvotes"].first()
    names = m.groupby("state_po")["state"].first().str.title()
    df = pd.DataFrame({"state": names, "total_votes": total})
    df["dem_votes"] = out["dem_votes"].reindex(df.index).fillna(0)
    df["rep_votes"] = out["rep_votes"].reindex(df.index).fillna(0)
    df["dem_candidate"] = _display_name(out["dem_candidate"])
    df["rep_candidate"] = _display_name(out["rep_candidate"])
    by_cand = m.groupby(["state_po", "candidate"])["candidatevotes"].sum().reset_index()
    top = by_cand.sort_values("candidatevotes").groupby("state_po").tail(1).set_index("state_po")
    winner = np.where(
        top["candidate"] == out["dem_candidate"], "D",
        np.where(top["candidate"] == out["rep_candidate"], "R", "O"),
    )  # fmt: skip
    df["winner"] = pd.Series(winner, index=top.index).reindex(df.index)
    df["state"] = df["state"].str.replace("Of Columbia", "of Columbia")
    df["year"] = year
    for (y, st), fix in ERRATA.items():
        if y == year:
            for col, val in fix.items():
                df.loc[st, col] = val
    return df.reset_index()


def _display_name(medsl_name: str) -> str:
    """'CARTER, JIMMY' -> 'Jimmy Carter' (MEDSL writes LAST, FIRST in capitals)."""
    last, _, first = medsl_name.partition(",")
    words = f"{first.strip()} {last.strip()}".strip().split()
    return " ".join(_cap(w) for w in words)


def _cap(word: str) -> str:
    if word.endswith(".") and len(word) <= 5:  # initials such as H.W.
        return word
    if word.upper().startswith("MC") and len(word) > 2:
        return "Mc" + word[2:].title()
    return word.title()


def election_results(year: int, level: str = "state") -> pd.DataFrame:
    """Certified presidential results for ``year`` by state (50 + DC) or nationally.

    Parameters
    ----------
    year : a presidential election year, 1976-2024.
    level : ``"state"`` (51 rows, USPS order) or ``"national"`` (one row, ``state_po="US"``).

    Returns
    -------
    DataFrame with columns ``state_po, state, year, dem_votes, rep_votes, other_votes,
    total_votes, dem_share, rep_share, dem_two_party_share, electoral_votes, winner,
    dem_candidate, rep_candidate``. Shares are fractions of ``total_votes`` (two-party share of
    D+R). ``winner`` is the state's popular-vote plurality winner (``"D"``, ``"R"`` or ``"O"``);
    the Maine/Nebraska district splits are not applied, so EV tallies by ``winner`` are the
    winner-take-all counts (e.g. 2020: D 306, R 232). Nationally ``electoral_votes`` is 538 and
    ``winner`` is the party with most state-winner EVs.

    Universe and coding: votes cast for president (totals include the blank/void lines some
    states report, as the sources do). 1976-2012 from MEDSL (a nominee's votes on all ballot
    lines summed), 2016-2024 from the FiveThirtyEight-derived file (matches FEC totals within
    ~15k votes nationally).

    Raises
    ------
    DataError : a year without a presidential election or outside 1976-2024, or a bad level.

    Examples
    --------
    >>> r = election_results(2024)
    >>> r.loc[r["state_po"] == "PA", ["winner", "electoral_votes"]].values.tolist()
    [['R', 19]]
    >>> int(r.loc[r["winner"] == "R", "electoral_votes"].sum())
    312
    """
    y = _check_year(year)
    if level not in ("state", "national"):
        raise DataError(f"level must be 'state' or 'national', got {level!r}")
    if y >= _DERIVED_FROM:
        df = read_table("elections/president_state_2016_2024.csv")
        df = df[df["year"] == y].drop(columns="electoral_votes")
    else:
        df = _medsl(y)
    ev = electoral_votes(y)
    df = df.set_index("state_po").reindex(list(STATES)).reset_index()
    if df["total_votes"].isna().any():  # pragma: no cover - guarded by tests
        raise DataError(f"{y}: states without results: {df.loc[df.total_votes.isna(), 'state_po'].tolist()}")
    df["electoral_votes"] = df["state_po"].map(ev).astype("int64")
    for c in ("dem_votes", "rep_votes", "total_votes"):
        df[c] = df[c].astype("int64")
    if level == "national":
        df = _national(df, y)
    df["other_votes"] = df["total_votes"] - df["dem_votes"] - df["rep_votes"]
    df["dem_share"] = df["dem_votes"] / df["total_votes"]
    df["rep_share"] = df["rep_votes"] / df["total_votes"]
    df["dem_two_party_share"] = df["dem_votes"] / (df["dem_votes"] + df["rep_votes"])
    df["year"] = y
    return df[COLUMNS].reset_index(drop=True)


_CD_COLUMNS = {2016: ("presvotes_total_16", "presvotes_DR_16"),
               2020: ("presvotes_total_20", "presvotes_DR_20"),
               2024: ("presvotes_total", "presvotes_DR")}  # fmt: skip


def district_results(year: int) -> pd.DataFrame:
    """Presidential results by congressional district (435 rows) for 2016, 2020 or 2024.

    Source: Daily Kos Elections / The Downballot via ccesMRPprep. Each election is on the
    district lines in force at that election (2016: 115th Congress, 2020: 116th, 2024: 2024
    lines). Only the two-party split is published per district, so no D/R vote counts are
    made up: columns ``state_po, cd`` (e.g. ``"ME-02"``; at-large states are ``-01``),
    ``district`` (int), ``year``, ``total_votes``, ``two_party_votes`` (D + R),
    ``rep_two_party_share``, ``dem_two_party_share``. Summed over a state's districts the
    two-party votes are within 0.4% of :func:`election_results`.

    Examples
    --------
    >>> d = district_results(2024).set_index("cd")
    >>> bool(d.loc["ME-02", "rep_two_party_share"] > 0.5), bool(d.loc["NE-02",
    ...     "dem_two_party_share"] > 0.5)
    (True, True)
    """
    if year not in _CD_COLUMNS:
        raise DataError(
            f"no district results for {year!r}: calib ships congressional-district "
            f"presidential results for {sorted(_CD_COLUMNS)}; pass one of them"
        )
    total, dr = _CD_COLUMNS[year]
    raw = read_table(f"elections/cd_presidential_dailykos_{year}_lines.csv")
    out = pd.DataFrame(
        {
            "state_po": raw["cd"].str[:2],
            "cd": raw["cd"],
            "district": raw["cd"].str[3:].astype("int64"),
            "year": year,
            "total_votes": raw[total].astype("int64"),
            "two_party_votes": raw[dr].astype("int64"),
            "rep_two_party_share": raw["pct_trump"].astype(float),
        }
    )
    out["dem_two_party_share"] = 1.0 - out["rep_two_party_share"]
    return out


def _national(df: pd.DataFrame, year: int) -> pd.DataFrame:
    ev_d = int(df.loc[df["winner"] == "D", "electoral_votes"].sum())
    ev_r = int(df.loc[df["winner"] == "R", "electoral_votes"].sum())
    row = {
        "state_po": "US",
        "state": "United States",
        "dem_votes": int(df["dem_votes"].sum()),
        "rep_votes": int(df["rep_votes"].sum()),
        "total_votes": int(df["total_votes"].sum()),
        "electoral_votes": int(df["electoral_votes"].sum()),
        "winner": "D" if ev_d > ev_r else "R",
        "dem_candidate": df["dem_candidate"].iloc[0],
        "rep_candidate": df["rep_candidate"].iloc[0],
    }
    return pd.DataFrame([row])


__all__ = ["election_results", "electoral_votes", "district_results", "YEARS"]
