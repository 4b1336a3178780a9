"""Simulated persona election studies with known truth (the seed study's design, in silico).

Truth: every CVAP frame cell (state x race4 x sex x age6 x educ5, :func:`calib.data.datasets.
poststrat_frame`) gets P(vote Democrat | cell) from a logistic model with demographic effects
(:data:`VOTE_EFFECTS`) and a state intercept **solved** so that the poststratified two-party
Democratic share of every state equals the certified result of the chosen year (2016, 2020 or
2024). The frame counts citizens 18+, so "truth" is the certified share attributed to the CVAP
population of each state (no turnout model: a documented simplification).

Personas: ``per_state`` meta personas per state (1,000 in the seed study), drawn from the frame
with composition bias (:data:`DEFAULT_SKEW`: over-young, over-educated), each rendered as the
four persona types of the seed paper (meta, objective, subjective, descriptive). Each type
answers with a log-odds shift toward the Democrat (:data:`RESPONSE_SHIFT`) that grows from meta
to descriptive; at the descriptive level it is strong enough that raw personas call every
state for the Democrat, as the seed paper reports. A 5-point opinion question
(:data:`OPINION_LEVELS`) has a true distribution per cell (ordered logit) and shifts too.

Human benchmark: an ANES-sized sample (``human_n``) drawn from the truth with mild
nonresponse (older and more educated people respond more), design weights = inverse response
propensity scaled to the frame total; each human row also carries the LLM's answer for that
human's own attributes (``llm_vote_dem``, from the chosen ``human_llm_type``), which the hybrid
estimators pair with the human's real answer.

Examples
--------
>>> st = election_study(2024, per_state=40, human_n=300, seed=1)
>>> sorted(st.personas["persona_type"].unique())
['descriptive', 'meta', 'objective', 'subjective']
>>> bool(abs(st.truth_state.set_index("state").loc["TX", "dem_two_party_share"] - 0.4306) < 1e-3)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from calib.core.errors import DataError
from calib.data.datasets import election_results, poststrat_frame
from calib.data.variables import LEVELS

CELL_VARIABLES: tuple[str, ...] = ("state", "region", "race4", "sex", "age6", "educ5")
PERSONA_TYPES: tuple[str, ...] = ("meta", "objective", "subjective", "descriptive")

#: Demographic effects on the log-odds of a Democratic vote (state intercepts are solved).
VOTE_EFFECTS: dict[str, dict[str, float]] = {
    "age6": {"18-29": 0.45, "30-39": 0.25, "40-49": 0.0, "50-59": -0.15, "60-69": -0.2,
             "70+": -0.25},
    "sex": {"Female": 0.2, "Male": -0.2},
    "race4": {"White": -0.55, "Black": 2.0, "Hispanic": 0.6, "Other": 0.4},
    "educ5": {"No HS": -0.1, "HS": -0.35, "Some college": -0.1, "4-Year College": 0.3,
              "Post-grad": 0.65},
}  # fmt: skip

#: Log-odds shift toward the Democrat by persona type (response bias); settable.
RESPONSE_SHIFT: dict[str, float] = {
    "meta": 0.15,
    "objective": 0.35,
    "subjective": 0.8,
    "descriptive": 2.0,
}

#: Composition skew: multipliers on the inclusion probability of levels (personas).
DEFAULT_SKEW: dict[str, dict[str, float]] = {
    "age6": {"18-29": 1.8, "30-39": 1.4, "60-69": 0.8, "70+": 0.6},
    "educ5": {"No HS": 0.5, "HS": 0.7, "4-Year College": 1.5, "Post-grad": 1.8},
}

#: Mild nonresponse of the human sample (multipliers on response propensity).
HUMAN_NONRESPONSE: dict[str, dict[str, float]] = {
    "age6": {"18-29": 0.7, "70+": 1.2},
    "educ5": {"No HS": 0.7, "Post-grad": 1.3},
}

#: 5-point opinion scale (ordinal) and its cut points on the latent scale.
OPINION_LEVELS: tuple[str, ...] = (
    "Strongly oppose", "Oppose", "Neutral", "Support", "Strongly support",
)  # fmt: skip
OPINION_CUTS: tuple[float, ...] = (-1.6, -0.5, 0.4, 1.5)


@dataclass(frozen=True)
class ElectionStudy:
    """A simulated persona study with known truth.

    Attributes
    ----------
    year : the election whose certified state results the truth reproduces.
    personas : persona rows: persona_id, persona_type, cell variables, ``vote_dem`` (1/0),
        ``opinion`` (5-point), ``p_true`` (the cell's true P(D)).
    human : human benchmark rows: cell variables, ``weight`` (design weight), ``vote_dem`` and
        ``opinion`` (real answers), ``llm_vote_dem`` and ``llm_opinion`` (the LLM's answers for
        that human's attributes).
    frame : the CVAP frame with ``p_dem`` and the opinion distribution per cell.
    truth_state : state, dem_two_party_share (truth = certified), n.
    truth_opinion : the population distribution of the opinion question.
    params : every setting used (effects, shifts, skews, seeds).
    """

    year: int
    personas: pd.DataFrame
    human: pd.DataFrame
    frame: pd.DataFrame
    truth_state: pd.DataFrame
    truth_national: float
    truth_opinion: pd.Series
    params: dict = field(default_factory=dict)


def _effects(frame: pd.DataFrame, effects: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    eta = np.zeros(len(frame))
    for var, eff in effects.items():
        col = frame[var].astype(str)
        unknown = set(col.unique()) - set(eff)
        if unknown:
            raise DataError(f"effects for {var!r} lack levels {sorted(unknown)}")
        eta += col.map(eff).to_numpy(dtype=float)
    return eta


def _multiplier(frame: pd.DataFrame, skew: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    m = np.ones(len(frame))
    for var, mult in skew.items():
        if var not in frame.columns:
            raise DataError(f"skew variable {var!r} is not a frame column {list(frame.columns)}")
        m *= frame[var].astype(str).map(lambda x, mult=mult: mult.get(x, 1.0)).to_numpy(dtype=float)
    return m


def truth_frame(year: int, effects: Mapping[str, Mapping[str, float]] | None = None) -> pd.DataFrame:
    """The CVAP frame with P(D | cell) whose state shares equal the certified ``year`` results."""
    frame = poststrat_frame().copy()
    res = election_results(year).set_index("state_po")["dem_two_party_share"]
    base = _effects(frame, effects or VOTE_EFFECTS)
    alpha = np.zeros(len(frame))
    st = frame["state"].astype(str).to_numpy()
    n = frame["n"].to_numpy(dtype=float)
    for s in np.unique(st):
        m = st == s
        target = float(res[s])
        f = lambda a, m=m, t=target: np.average(expit(a + base[m]), weights=n[m]) - t  # noqa: E731
        # scipy has no stubs: brentq's inferred return includes its full_output tuple
        alpha[m] = brentq(f, -15, 15, xtol=1e-12)  # pyright: ignore[reportCallIssue, reportArgumentType]
    frame["p_dem"] = expit(alpha + base)
    frame["eta_dem"] = alpha + base
    return frame


#: Previous election whose recalled vote the study simulates (levels of ``calib.data.variables``).
RECALL: dict[int, str] = {2024: "vote2020", 2020: "vote2016"}


def recall_parameters(frame: pd.DataFrame, previous: int) -> dict[str, np.ndarray]:
    """Per-cell parameters of the recalled ``previous`` vote, consistent with certified results.

    Within state s a citizen voted with probability ``t_s`` = ballots / CVAP, for a minor
    candidate with ``t_s o_s`` (``o_s`` = other / ballots), and else for the Democrat with
    ``expit(eta_dem + delta_s)``: ``delta_s`` shifts the current-vote propensity so that the
    CVAP-weighted two-party share equals the certified one. The population's recalled-vote
    totals per state then equal the certified ones exactly (the targets of
    :func:`calib.hybrid.recalled_vote_targets`). Returns ``delta, turnout, other`` per row.
    """
    res = election_results(previous).set_index("state_po")
    st = frame["state"].astype(str).to_numpy()
    states, inv = np.unique(st, return_inverse=True)
    r = res.reindex(states)
    if r["total_votes"].isna().any():
        raise DataError(f"no certified {previous} result for {list(states[r['total_votes'].isna()])}")
    d2p = (r["dem_votes"] / (r["dem_votes"] + r["rep_votes"])).to_numpy(float)
    n = frame["n"].to_numpy(dtype=float)
    eta = frame["eta_dem"].to_numpy()
    big_n = np.bincount(inv, weights=n)
    lo, hi = np.full(states.size, -15.0), np.full(states.size, 15.0)
    for _ in range(60):  # bisection per state, all states at once
        mid = (lo + hi) / 2
        share = np.bincount(inv, weights=n * expit(eta + mid[inv])) / big_n
        lo, hi = np.where(share > d2p, lo, mid), np.where(share > d2p, mid, hi)
    turnout = r["total_votes"].to_numpy(float) / big_n
    other = r["other_votes"].to_numpy(float) / r["total_votes"].to_numpy(float)
    return {"delta": ((lo + hi) / 2)[inv], "turnout": turnout[inv], "other": other[inv]}


def _recalled(u: np.ndarray, v: np.ndarray, eta: np.ndarray, shift: float,
              rp: Mapping[str, np.ndarray], idx: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
    """Recalled vote: ``u`` is the uniform that drew the current vote (the same latent
    partisanship: ``u < expit(eta + shift)`` voted D now), ``v`` an independent uniform for
    turnout and minor candidates."""
    t, o, dlt = rp["turnout"][idx], rp["other"][idx], rp["delta"][idx]
    dem = u < expit(eta + dlt + shift)
    out = np.where(dem, levels[0], levels[1]).astype(object)
    out[v < t * o] = levels[2]
    out[v >= t] = levels[3]
    return out


def _opinion_probs(latent: np.ndarray) -> np.ndarray:
    cuts = np.asarray(OPINION_CUTS)
    cdf = expit(cuts[None, :] - latent[:, None])
    cdf = np.hstack([np.zeros((len(latent), 1)), cdf, np.ones((len(latent), 1))])
    return np.diff(cdf, axis=1)


def _draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    u = rng.random(len(probs))
    return (probs.cumsum(axis=1) < u[:, None]).sum(axis=1).clip(0, probs.shape[1] - 1)


def election_study(
    year: int = 2024,
    *,
    per_state: int = 1000,
    persona_types: tuple[str, ...] = PERSONA_TYPES,
    response_shift: Mapping[str, float] | None = None,
    skew: Mapping[str, Mapping[str, float]] | None = None,
    effects: Mapping[str, Mapping[str, float]] | None = None,
    human_n: int = 1500,
    human_llm_type: str = "descriptive",
    seed: int | None = None,
) -> ElectionStudy:
    """Simulate a persona election study with known truth.

    Parameters
    ----------
    year : 2016, 2020 or 2024 (certified state results reproduced by the truth).
    per_state : meta personas per state (each rendered as every persona type).
    persona_types : which types to render (subset of :data:`PERSONA_TYPES`).
    response_shift : log-odds shift toward D per type (default :data:`RESPONSE_SHIFT`).
    skew : composition skew (default :data:`DEFAULT_SKEW`; ``{}`` for none).
    effects : demographic effects (default :data:`VOTE_EFFECTS`).
    human_n : size of the human benchmark sample (0 for none).
    human_llm_type : persona type whose answers are paired with the humans.
    seed : random seed.
    """
    shift = dict(RESPONSE_SHIFT if response_shift is None else response_shift)
    bad = [t for t in persona_types if t not in shift]
    if bad:
        raise DataError(f"no response shift for persona types {bad}; give response_shift={{...}}")
    skew = DEFAULT_SKEW if skew is None else skew
    rng = np.random.default_rng(seed)
    frame = truth_frame(year, effects)
    n = frame["n"].to_numpy(dtype=float)
    # opinion latent: loosely tied to partisanship plus age
    latent = 0.8 * frame["eta_dem"].to_numpy() + 0.3 * (frame["age6"].astype(str) == "18-29").to_numpy()
    op_probs = _opinion_probs(latent)
    for k in range(len(OPINION_LEVELS)):
        frame[f"p_opinion_{k}"] = op_probs[:, k]
    # personas: per_state draws within each state, prob ∝ n × skew
    mult = _multiplier(frame, skew) * n
    st = frame["state"].astype(str).to_numpy()
    idx = []
    for s in np.unique(st):
        cand = np.flatnonzero(st == s)
        p = mult[cand] / mult[cand].sum()
        idx.append(rng.choice(cand, per_state, p=p))
    idx = np.concatenate(idx)
    meta = frame.iloc[idx][list(CELL_VARIABLES)].reset_index(drop=True)
    meta.insert(0, "persona_id", np.arange(len(meta)))
    eta = frame["eta_dem"].to_numpy()[idx]
    recall = RECALL.get(year)
    rp = recall_parameters(frame, year - 4) if recall else None
    levels = LEVELS[recall] if recall else ()
    rng_recall = np.random.default_rng(np.random.SeedSequence([0 if seed is None else seed, 4]))
    rows = []
    for t in persona_types:
        p = expit(eta + shift[t])
        d = meta.copy()
        d.insert(1, "persona_type", t)
        u = rng.random(len(d))
        d["vote_dem"] = (u < p).astype(int)
        if rp is not None:  # the LLM recalls the previous vote with the same shift
            d[recall] = _recalled(u, rng_recall.random(len(d)), eta, shift[t], rp, idx, levels)
        d["opinion"] = np.asarray(OPINION_LEVELS)[
            _draw_categorical(rng, _opinion_probs(latent[idx] + 0.8 * shift[t]))
        ]
        d["p_true"] = frame["p_dem"].to_numpy()[idx]
        rows.append(d)
    personas = pd.concat(rows, ignore_index=True)
    for v in CELL_VARIABLES:
        personas[v] = pd.Categorical(personas[v].astype(str), categories=list(frame[v].cat.categories))
    personas["persona_type"] = pd.Categorical(personas["persona_type"], categories=list(persona_types))
    personas["opinion"] = pd.Categorical(personas["opinion"], categories=list(OPINION_LEVELS), ordered=True)
    if recall:
        personas[recall] = pd.Categorical(personas[recall], categories=list(levels))
    # human benchmark
    human = pd.DataFrame()
    if human_n > 0:
        resp = _multiplier(frame, HUMAN_NONRESPONSE)
        prob = n * resp / (n * resp).sum()
        hidx = rng.choice(len(frame), human_n, p=prob)
        human = frame.iloc[hidx][list(CELL_VARIABLES)].reset_index(drop=True)
        w = 1.0 / resp[hidx]
        human["weight"] = w * (n.sum() / w.sum())
        h_eta = frame["eta_dem"].to_numpy()[hidx]
        hu = rng.random(human_n)
        human["vote_dem"] = (hu < expit(h_eta)).astype(int)
        if rp is not None:
            human[recall] = pd.Categorical(
                _recalled(hu, rng_recall.random(human_n), h_eta, 0.0, rp, hidx, levels),
                categories=list(levels))
        human["opinion"] = np.asarray(OPINION_LEVELS)[_draw_categorical(rng, op_probs[hidx])]
        human["llm_vote_dem"] = (rng.random(human_n) < expit(h_eta + shift.get(human_llm_type, 0.0))).astype(int)
        human["llm_opinion"] = np.asarray(OPINION_LEVELS)[
            _draw_categorical(rng, _opinion_probs(latent[hidx] + 0.8 * shift.get(human_llm_type, 0.0)))
        ]
        for v in CELL_VARIABLES:
            human[v] = pd.Categorical(human[v].astype(str), categories=list(frame[v].cat.categories))
    g = frame.assign(w=frame["p_dem"] * n).groupby("state", observed=True)
    truth_state = pd.DataFrame(
        {"dem_two_party_share": g["w"].sum() / g["n"].sum(), "n": g["n"].sum()}
    ).reset_index()
    truth_state["state"] = truth_state["state"].astype(str)
    truth_op = pd.Series(
        (op_probs * n[:, None]).sum(axis=0) / n.sum(), index=list(OPINION_LEVELS), name="share"
    )
    params = {
        "year": year,
        "per_state": per_state,
        "persona_types": list(persona_types),
        "response_shift": shift,
        "skew": {k: dict(v) for k, v in skew.items()},
        "effects": {k: dict(v) for k, v in (effects or VOTE_EFFECTS).items()},
        "human_n": human_n,
        "human_llm_type": human_llm_type,
        "human_nonresponse": HUMAN_NONRESPONSE,
        "seed": seed,
    }
    return ElectionStudy(
        year=year,
        personas=personas,
        human=human,
        frame=frame,
        truth_state=truth_state,
        truth_national=float(np.average(frame["p_dem"], weights=n)),
        truth_opinion=truth_op,
        params=params,
    )


__all__ = [
    "ElectionStudy",
    "election_study",
    "truth_frame",
    "VOTE_EFFECTS",
    "RESPONSE_SHIFT",
    "DEFAULT_SKEW",
    "HUMAN_NONRESPONSE",
    "OPINION_LEVELS",
    "PERSONA_TYPES",
]
