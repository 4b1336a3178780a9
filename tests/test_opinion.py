import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

from calib.core.errors import DataError
from calib.studies.opinion import alignment, total_variation, wasserstein1


def test_wasserstein_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
        ref = wasserstein_distance(np.arange(5), np.arange(5), p, q)
        assert wasserstein1(p, q) == pytest.approx(ref, abs=1e-12)


def test_total_variation_and_errors():
    assert total_variation([1, 0], [0, 1]) == 1.0
    with pytest.raises(DataError):
        total_variation([1, 0], [0, 0.5, 0.5])
    with pytest.raises(DataError):
        wasserstein1([-0.1, 1.1], [0.5, 0.5])


def test_alignment_by_group():
    est = pd.DataFrame(
        {
            "persona_type": ["meta"] * 3 + ["descriptive"] * 3,
            "level": ["lib", "mod", "con"] * 2,
            "estimate": [0.3, 0.4, 0.3, 0.6, 0.3, 0.1],
        }
    )
    bench = {"lib": 0.3, "mod": 0.4, "con": 0.3}
    out = alignment(est, bench, ordinal=True, group="persona_type").set_index("persona_type")
    assert out.at["meta", "distance"] == pytest.approx(0.0)
    assert out.at["descriptive", "distance"] == pytest.approx(wasserstein1([0.6, 0.3, 0.1], [0.3, 0.4, 0.3]))


def test_opinion_estimates_per_persona_type_against_truth():
    """Categorical opinion estimated with uncertainty per persona type, scored by W1."""
    from calib import Sample
    from calib.studies.election_study import OPINION_LEVELS, election_study

    st = election_study(2024, per_state=60, human_n=0, seed=2)
    p = st.personas.assign(opinion=st.personas["opinion"].astype(str))
    est = Sample(p).estimate("opinion", by="persona_type")
    est = est[est["by"] == "persona_type"].rename(columns={"domain": "persona_type"})
    assert (est["se"] > 0).all() and (est["ci_low"] <= est["estimate"]).all()
    out = alignment(est, st.truth_opinion, ordinal=True, levels=OPINION_LEVELS,
                    group="persona_type").set_index("persona_type")["distance"]
    # the drift grows from meta to descriptive personas (the seed paper's finding)
    assert out["meta"] < out["subjective"] < out["descriptive"]
    assert out["descriptive"] > 0.3
