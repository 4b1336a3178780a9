import numpy as np
import pandas as pd
import pytest

from calib.core.errors import DataError
from calib.data.datasets import election_results
from calib.data.variables import STATES
from calib.election import Forecast, backtest, forecast


def _certified(year):
    r = election_results(year)
    return pd.DataFrame({"state": r["state_po"], "estimate": r["dem_two_party_share"], "se": 1e-9})


@pytest.mark.parametrize("year,dem_ev", [(2016, 233), (2020, 306), (2024, 226)])
def test_certified_shares_reproduce_state_winner_ev(year, dem_ev):
    # published state-winner totals (ME/NE at large): 2016 D233, 2020 D306, 2024 D226
    f = forecast(_certified(year), year, national_sd=0.0, draws=500, seed=1)
    assert set(f.ev_draws) == {dem_ev}
    m = backtest(f, year)
    assert m["rmse"] < 1e-6 and m["winners_correct"] == 51 and m["ev_error"] == 0
    assert m["states"] == 51 and m["coverage"] == 1.0


def test_missing_state_named_and_fill_reported():
    est = _certified(2024)
    est = est[est["state"] != "DC"]
    with pytest.raises(DataError, match=r"\['DC'\]"):
        forecast(est, 2024)
    f = forecast(est, 2024, fill_missing="previous", national_sd=0.0, seed=0, draws=2000)
    dc = f.states.set_index("state").loc["DC"]
    assert dc["filled"] and f.options["filled"]["DC"] == pytest.approx(
        election_results(2020).set_index("state_po").at["DC", "dem_two_party_share"]
    )


def test_tie_and_republican_flip():
    ev = election_results(2024).set_index("state_po")["electoral_votes"]
    # give D exactly 269: subset sum over the states' electoral votes
    reach = {0: []}
    for s in STATES:
        for t, states in list(reach.items()):
            if t + ev[s] <= 269 and t + ev[s] not in reach:
                reach[t + ev[s]] = [*states, s]
    chosen = reach[269]
    assert sum(ev[s] for s in chosen) == 269
    est = pd.DataFrame(
        {"state": STATES, "estimate": [0.6 if s in chosen else 0.4 for s in STATES], "se": 0.0}
    )
    f = forecast(est, 2024, national_sd=0.0, draws=100, seed=0)
    assert f.p_tie == 1.0 and f.p_dem_win == 0.0 and f.p_rep_win == 0.0
    rep = est.assign(estimate=1 - est["estimate"])
    f2 = forecast(rep, 2024, republican=True, national_sd=0.0, draws=100, seed=0)
    np.testing.assert_array_equal(f.ev_draws, f2.ev_draws)


def test_national_swing_correlates_states():
    est = pd.DataFrame({"state": STATES, "estimate": 0.5, "se": 0.0})
    f = forecast(est, 2024, national_sd=0.03, draws=4000, seed=2)
    # one shared swing: every draw is (almost) all-D or all-R
    assert np.mean((f.ev_draws == 538) | (f.ev_draws == 0)) > 0.99
    assert 0.45 < f.p_dem_win < 0.55


def test_draws_input_and_json_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    truth = election_results(2020).set_index("state_po")["dem_two_party_share"]
    rows = [
        (s, d, truth[s] + 0.01 * rng.standard_normal()) for s in STATES for d in range(200)
    ]
    draws = pd.DataFrame(rows, columns=["domain", "draw", "estimate"])
    f = forecast(draws, 2020, national_sd=0.0, seed=3, draws=1000)
    assert f.options["input"] == "draws"
    p = f.write(tmp_path / "f.json")
    with pytest.raises(DataError, match="exists"):
        f.write(p)
    g = Forecast.read(p)
    assert g.p_dem_win == f.p_dem_win
    m = backtest(p, 2020)
    assert m["rmse"] < 0.005 and m["winners_correct"] >= 48


def test_popular_vote_weights_previous_two_party_votes():
    est = _certified(2024)
    f = forecast(est, 2024, national_sd=0.0, draws=200, seed=0)
    prev = election_results(2020)
    w = prev["dem_votes"] + prev["rep_votes"]
    expect = np.average(
        est.set_index("state").loc[prev["state_po"], "estimate"].to_numpy(), weights=w
    )
    assert f.popular_vote()["dem_two_party_share"] == pytest.approx(expect, abs=1e-6)


def test_turnout_propensity_recovers_known_model_and_state_totals():
    from calib.election import likely_voter_frame, turnout_propensity

    rng = np.random.default_rng(5)
    n = 40000
    age = rng.choice(["18-29", "30-44", "45-64", "65+"], n)
    educ = rng.choice(["HS", "College"], n)
    eff_age = {"18-29": -1.0, "30-44": -0.3, "45-64": 0.4, "65+": 0.9}
    eta = 0.5 + pd.Series(age).map(eff_age).to_numpy() + np.where(educ == "College", 0.5, -0.5)
    voted = rng.random(n) < 1 / (1 + np.exp(-eta))
    survey = pd.DataFrame({"age4": age, "educ": educ, "voted": voted.astype(int)})
    survey.loc[:99, "voted"] = np.nan
    model = turnout_propensity(survey, "voted", ["age4", "educ"], penalty=1e-3)
    assert model.n_missing == 100
    frame = pd.DataFrame(
        [(a, e) for a in eff_age for e in ["HS", "College"]], columns=["age4", "educ"]
    )
    p = model.predict(frame)
    truth = 1 / (1 + np.exp(-(0.5 + frame["age4"].map(eff_age) + np.where(frame["educ"] == "College", 0.5, -0.5))))
    np.testing.assert_allclose(p, truth, atol=0.02)
    frame = pd.concat([frame.assign(state="AL"), frame.assign(state="AK")], ignore_index=True)
    frame["n"] = 1000.0
    out = likely_voter_frame(frame, model, totals=pd.Series({"AL": 5000.0, "AK": 2000.0}))
    np.testing.assert_allclose(out.groupby("state")["voters"].sum().loc[["AL", "AK"]], [5000, 2000])
    # within a state the voter mix follows the propensities
    al = out[out["state"] == "AL"]
    np.testing.assert_allclose(al["voters"] / al["voters"].sum(), p / p.sum(), rtol=1e-9)


def test_future_year_uses_apportionment():
    est = _certified(2024)
    f = forecast(est, 2028, national_sd=0.0, draws=200, seed=0)
    assert f.states["electoral_votes"].sum() == 538
    assert set(f.ev_draws) == {226}
