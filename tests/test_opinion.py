import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

from calib.errors import DataError
from calib.opinion import alignment, total_variation, wasserstein1


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
