import numpy as np
import pandas as pd
import pytest

from calib.data.datasets import election_results
from calib.studies.election_study import election_study, truth_frame


@pytest.mark.parametrize("year", [2016, 2020, 2024])
def test_truth_reproduces_certified_state_shares(year):
    f = truth_frame(year)
    got = (f["p_dem"] * f["n"]).groupby(f["state"], observed=True).sum() / f.groupby(
        "state", observed=True
    )["n"].sum()
    cert = election_results(year).set_index("state_po")["dem_two_party_share"]
    np.testing.assert_allclose(got.to_numpy(), cert.loc[got.index.astype(str)].to_numpy(), atol=1e-9)


def test_study_biases_and_reproducibility():
    a = election_study(2024, per_state=300, human_n=400, seed=7)
    b = election_study(2024, per_state=300, human_n=400, seed=7)
    assert a.personas.equals(b.personas) and a.human.equals(b.human)
    p = a.personas
    assert len(p) == 50 * 300 * 4
    raw = p.groupby(["persona_type", "state"], observed=True)["vote_dem"].mean().unstack(0)
    # descriptive personas call every state for the Democrat (seed paper)
    assert (raw["descriptive"] > 0.5).all()
    # response bias grows from meta to descriptive
    means = p.groupby("persona_type", observed=True)["vote_dem"].mean()
    assert means["meta"] < means["objective"] < means["subjective"] < means["descriptive"]
    # composition bias: personas over-young relative to the frame
    fr = a.frame
    young_pop = fr.loc[fr["age6"] == "18-29", "n"].sum() / fr["n"].sum()
    young_meta = (p.loc[p["persona_type"] == "meta", "age6"] == "18-29").mean()
    assert young_meta > 1.3 * young_pop
    # human design weights sum to the frame total
    assert a.human["weight"].sum() == pytest.approx(fr["n"].sum())
    assert a.truth_opinion.sum() == pytest.approx(1.0)


def test_recalled_vote_population_totals_equal_certified_2020():
    """The simulated recalled 2020 vote reproduces the certified state results exactly."""
    from scipy.special import expit

    from calib.data.datasets import election_results
    from calib.studies.election_study import recall_parameters, truth_frame

    fr = truth_frame(2024)
    rp = recall_parameters(fr, 2020)
    n = fr["n"].to_numpy(float)
    dem = n * rp["turnout"] * (1 - rp["other"]) * expit(fr["eta_dem"].to_numpy() + rp["delta"])
    got = pd.Series(dem).groupby(fr["state"].astype(str).to_numpy()).sum()
    res = election_results(2020).set_index("state_po")["dem_votes"].reindex(got.index)
    np.testing.assert_allclose(got.to_numpy(), res.to_numpy(dtype=float), rtol=1e-9)
