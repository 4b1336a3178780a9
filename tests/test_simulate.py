"""calib.studies.simulate: truths are computed from the documented model, samples follow the design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calib.core.errors import DataError
from calib.data.datasets import poststrat_frame, state_predictors
from calib.studies import simulate


@pytest.fixture(scope="module")
def pop():
    return simulate.population()


def test_cell_probability_matches_documented_model(pop):
    # one cell computed by hand from the documented coefficients
    rv = state_predictors().set_index(state_predictors()["state"].astype(str))["repvote"]
    eta = (-0.1 + 4 * (rv["AL"] - rv.mean()) + 0.35 + 0.15 + 0.55 - 0.6)
    c = pop.cells
    row = c[(c.state == "AL") & (c.age6 == "70+") & (c.sex == "Male") & (c.race4 == "White")
            & (c.educ5 == "Post-grad")]
    assert len(row) == 1
    assert row["p"].iloc[0] == pytest.approx(1 / (1 + np.exp(-eta)), abs=1e-12)


def test_truth_is_the_count_weighted_mean(pop):
    f = poststrat_frame()
    n = f["n"].to_numpy(float)
    assert pop.truth_overall["estimate"].iloc[0] == pytest.approx(
        float((n * pop.cells["p"]).sum() / n.sum()), rel=1e-12)
    tx = pop.truth_state.set_index("state").loc["TX", "estimate"]
    m = (f["state"] == "TX").to_numpy()
    assert tx == pytest.approx(float((n[m] * pop.cells["p"][m]).sum() / n[m].sum()), rel=1e-12)
    assert len(pop.truth_state) == 50


def test_skew_multiplies_inclusion_odds(pop):
    share = pop.cells.groupby("age6", observed=True)["n"].sum() / pop.cells["n"].sum()
    s = float(share["18-29"])
    rows, _ = simulate.sample(pop, 200_000, skew={"age6": {"18-29": 2.0}}, seed=1)
    expected = 2 * s / (2 * s + (1 - s))
    got = float((rows["age6"] == "18-29").mean())
    assert got == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / 200_000))


def test_unskewed_sample_mean_matches_truth_and_shift_moves_it(pop):
    rows, _ = simulate.sample(pop, 200_000, seed=2)
    truth = pop.truth_overall["estimate"].iloc[0]
    assert rows["y"].mean() == pytest.approx(truth, abs=0.005)
    shifted, _ = simulate.sample(pop, 200_000, response_shift=-1.0, seed=2)
    assert shifted["y"].mean() < truth - 0.15


def test_per_state_equal_counts(pop):
    rows, _ = simulate.sample(pop, 0, per_state=30, seed=3)
    counts = rows.groupby("state", observed=True).size()
    assert len(counts) == 50 and (counts == 30).all()


def test_categorical_population_and_sample():
    pop = simulate.population(outcome="categorical")
    probs = pop.prob()
    assert np.allclose(probs.sum(axis=1), 1.0)
    rows, _ = simulate.sample(pop, 100_000, seed=4)
    freq = rows["y"].value_counts(normalize=True)
    for _, r in pop.truth_overall.iterrows():
        assert freq[r["level"]] == pytest.approx(r["estimate"], abs=0.01)


def test_bad_inputs_name_the_problem(pop):
    with pytest.raises(DataError, match="agegroup"):
        simulate.sample(pop, 10, skew={"agegroup": {"18-29": 2.0}})
    with pytest.raises(DataError, match="18-24"):
        simulate.sample(pop, 10, skew={"age6": {"18-24": 2.0}})
    with pytest.raises(DataError, match="outcome"):
        simulate.population(outcome="ordinal")
    frame = pd.DataFrame({"x": ["a"], "n": [1]})
    with pytest.raises(DataError, match="age6"):
        simulate.population(frame=frame)
