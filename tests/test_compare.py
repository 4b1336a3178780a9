import numpy as np
import pandas as pd
import pytest

from calib.studies.comparison import clustered_mcse, compare, compare_repeated, frame_targets
from calib.studies.election_study import election_study


@pytest.fixture(scope="module")
def study():
    return election_study(
        2024, per_state=400, human_n=0, seed=11, response_shift={"meta": 0.0, "descriptive": 2.0},
        persona_types=("meta", "descriptive"),
    )


def test_frame_targets_are_frame_sums(study):
    t = frame_targets(study.frame, ["age6"], "state")
    m = t["age6:state"]
    tx = dict(zip(m.level_labels(), m.values, strict=True))
    f = study.frame
    assert tx["18-29:TX"] == f.loc[(f["state"] == "TX") & (f["age6"] == "18-29"), "n"].sum()


def test_weighting_removes_composition_bias_not_response_bias(study):
    bench = study.truth_state.set_index("state")["dem_two_party_share"]
    p = study.personas
    meta = compare(p[p["persona_type"] == "meta"], "vote_dem", benchmark=bench,
                   frame=study.frame, methods=("raw", "rake"), seed=0).summary.set_index("method")
    # no response bias: raking fixes the composition skew
    assert meta.at["rake", "rmse"] < 0.6 * meta.at["raw", "rmse"]
    assert abs(meta.at["rake", "national"] - meta.at["rake", "national_truth"]) < 0.01
    assert meta.at["rake", "coverage"] > 0.8
    desc = compare(p[p["persona_type"] == "descriptive"], "vote_dem", benchmark=bench,
                   frame=study.frame, methods=("raw", "rake"), seed=0).summary.set_index("method")
    # response bias: raking cannot remove it
    assert desc.at["rake", "bias"] > 0.2 and desc.at["rake", "coverage"] < 0.1


def test_failures_are_reported_not_hidden(study):
    bench = study.truth_state.set_index("state")["dem_two_party_share"]
    p = study.personas[study.personas["persona_type"] == "meta"]
    c = compare(p, "vote_dem", benchmark=bench, frame=study.frame,
                methods=("raw", "calibrate-logit"), options={"calibrate-logit": {"bounds": (0.9, 1.1)}})
    s = c.summary.set_index("method")
    assert s.at["raw", "status"] == "ok"
    assert s.at["calibrate-logit", "status"].startswith("failed:")


def test_unknown_study_option_is_refused(study):
    # the study options are one typed set (StudyOptions): a misspelt name is an error
    bench = study.truth_state.set_index("state")["dem_two_party_share"]
    with pytest.raises(TypeError, match=r"unknown options \['frames'\]"):
        compare(study.personas, "vote_dem", benchmark=bench, frames=study.frame)


def test_repeated_mode_reports_coverage_with_mcse():
    def make(seed):
        st = election_study(2024, per_state=60, human_n=0, seed=seed,
                            response_shift={"meta": 0.0}, persona_types=("meta",))
        return {"personas": st.personas, "benchmark": st.truth_state.set_index("state")["dem_two_party_share"],
                "frame": st.frame}

    out = compare_repeated(make, 2, methods=("raw",), outcome="vote_dem")
    row = out.set_index("method").loc["raw"]
    assert row["reps"] == 2 and row["intervals"] == 100
    # issue 15: the MCSE treats repetitions as clusters (intervals of one repetition share its
    # data); the binomial figure, which treats the 100 intervals as independent, stays beside it
    assert row["coverage_mcse_iid"] == pytest.approx(
        np.sqrt(row["coverage"] * (1 - row["coverage"]) / 100))
    assert np.isfinite(row["coverage_mcse"])
    assert isinstance(out, pd.DataFrame)


def test_clustered_mcse_is_the_se_of_per_repetition_rates():
    rng = np.random.default_rng(4)
    reps = np.repeat(np.arange(30), 50)
    # a shared per-repetition effect: intervals of one repetition cover together
    p = np.clip(0.9 + rng.normal(0, 0.08, 30), 0, 1)[reps]
    covered = rng.random(reps.size) < p
    rates = pd.Series(covered).groupby(reps).mean()
    se = clustered_mcse(covered, reps)
    assert se == pytest.approx(rates.std(ddof=1) / np.sqrt(30), rel=1e-12)
    c = covered.mean()
    assert se > 1.5 * np.sqrt(c * (1 - c) / covered.size)  # the iid formula understates it
    assert np.isnan(clustered_mcse(covered[:50], reps[:50]))  # one repetition: undefined
    # unequal cluster sizes: the ratio-estimator form
    cov2, rep2 = np.array([1, 1, 0, 1, 0]), np.array([0, 0, 0, 1, 1])
    k, cc = np.array([3.0, 2.0]), np.array([2.0, 1.0])
    rate = 3 / 5
    assert clustered_mcse(cov2, rep2) == pytest.approx(
        np.sqrt(np.sum((cc - rate * k) ** 2) / 2) / k.mean())


def test_ppi_rectifier_removes_response_bias():
    st = election_study(2024, per_state=300, human_n=1500, seed=5, persona_types=("descriptive",))
    bench = st.truth_state.set_index("state")["dem_two_party_share"]
    s = compare(st.personas, "vote_dem", benchmark=bench, frame=st.frame, methods=("rake", "ppi"),
                variables=("age6", "sex", "educ5"), human=st.human, human_outcome="vote_dem",
                llm_outcome="llm_vote_dem",
                seed=0).summary.set_index("method")
    assert s.at["ppi", "rmse"] < 0.25 * s.at["rake", "rmse"]
    assert abs(s.at["ppi", "national"] - s.at["ppi", "national_truth"]) < 0.03


def test_joint_mrp_in_the_harness_removes_response_bias():
    """The joint persona-human MRP runner: descriptive personas (log-odds shift 2.0) plus 1,500
    humans; with the bias switched off the state estimates are far closer to the truth than
    the raw persona means, and the national figure within 3 points."""
    st = election_study(2024, per_state=150, human_n=1500, seed=6,
                        persona_types=("descriptive",))
    bench = st.truth_state.set_index("state")["dem_two_party_share"]
    c = compare(st.personas, "vote_dem", benchmark=bench, frame=st.frame,
                methods=("raw", "joint-mrp"), variables=("age6", "sex", "educ5"),
                human=st.human, human_outcome="vote_dem", llm_outcome="llm_vote_dem", seed=0,
                options={"joint-mrp": {"chains": 2, "gate": "warn"}})
    s = c.summary.set_index("method")
    assert s.at["joint-mrp", "status"] == "ok"
    assert s.at["joint-mrp", "rmse"] < 0.35 * s.at["raw", "rmse"]
    assert abs(s.at["joint-mrp", "national"] - s.at["joint-mrp", "national_truth"]) < 0.03
    assert "joint-mrp" in c.fits


def test_partisan_calibration_fixes_composition_not_response():
    """Descriptive personas recall a 2020 vote with the same shift as their 2024 vote.
    Raking to the certified 2020 recall by state removes most of the bias (the recalled vote
    carries the latent partisanship), but not all: the nonvoters' answers stay shifted."""
    st = election_study(2024, per_state=300, human_n=0, seed=6, persona_types=("descriptive",))
    p = st.personas
    # the truth of the recalled vote equals the certified 2020 results (shares of CVAP)
    from calib.hybrid import recalled_vote_targets

    t = recalled_vote_targets(2020)["vote2020"]
    dem_share = dict(zip(t.level_labels(), t.values, strict=True))["Democrat"]
    assert dem_share == pytest.approx(0.354, abs=5e-4)
    assert (p["vote2020"] == "Democrat").mean() > dem_share + 0.15  # the LLM's recall is shifted
    bench = st.truth_state.set_index("state")["dem_two_party_share"]
    s = compare(p, "vote_dem", benchmark=bench, frame=st.frame,
                methods=("rake", "partisan"), variables=("age6", "sex", "educ5")).summary
    s = s.set_index("method")
    assert s.at["partisan", "status"] == "ok"
    assert s.at["partisan", "rmse"] < 0.5 * s.at["rake", "rmse"]
    assert s.at["partisan", "bias"] > 0.05  # what partisan weighting cannot fix


def test_poststratify_without_frame_or_targets_names_the_fix(study):
    # was an AttributeError on None (frame_targets(None, ...)); now the rake path's DataError
    p = study.personas[study.personas["persona_type"] == "meta"]
    bench = study.truth_state.set_index("state")["dem_two_party_share"]
    c = compare(p, "vote_dem", benchmark=bench, methods=("poststratify",))
    status = c.summary.set_index("method").at["poststratify", "status"]
    assert "need targets= or a frame=" in status
