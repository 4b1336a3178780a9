"""Property tests of the weighting methods (hypothesis): margins met, positivity, invariances."""

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from calib import Sample, Targets
from calib.core.errors import InfeasibleError

SETTINGS = settings(max_examples=30, deadline=None)


def _problem(seed: int, n: int, k: int):
    """A sample with every level present and consistent margins reachable with g in (0.5, 2)."""
    rng = np.random.default_rng(seed)
    data = {}
    for j in range(k):
        n_lv = int(rng.integers(2, 5))
        lv = np.array([f"v{j}l{i}" for i in range(n_lv)])
        col = np.concatenate([lv, rng.choice(lv, n - n_lv)])
        data[f"v{j}"] = rng.permutation(col)
    df = pd.DataFrame(data)
    base = rng.uniform(0.5, 3.0, n)
    truth = base * rng.uniform(0.7, 1.4, n)  # a positive solution exists: g = truth / base
    rows = []
    for v in df.columns:
        tot = pd.Series(truth).groupby(df[v].to_numpy()).sum()
        rows += [(v, lv, float(x)) for lv, x in tot.items()]
    t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]))
    return df, base, t


def _margins_hit(df: pd.DataFrame, w: np.ndarray, t: Targets, rtol: float) -> None:
    for m in t:
        got = pd.Series(w).groupby(df[m.variables[0]].to_numpy()).sum()
        want = pd.Series(m.values, index=[lv[0] for lv in m.levels])
        np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=rtol)


def _fit(df, base, t, method):
    s = Sample(df, weight=base)
    if method == "rake":
        return s.rake(t, tol=1e-12).weight_array
    if method == "logit":
        return s.calibrate(t, distance="logit", bounds=(0.3, 3.0), tol=1e-11).weight_array
    try:
        return s.calibrate(t, distance=method, tol=1e-11).weight_array
    except InfeasibleError:  # unbounded linear calibration may give negative weights
        assume(False)


problem = dict(seed=st.integers(0, 2**32 - 1), n=st.integers(12, 120), k=st.integers(1, 3))
methods = st.sampled_from(["rake", "raking", "linear", "logit"])


@SETTINGS
@given(method=methods, **problem)
def test_margins_are_hit(method, seed, n, k):
    df, base, t = _problem(seed, n, k)
    w = _fit(df, base, t, method)
    _margins_hit(df, w, t, rtol=1e-8)


@SETTINGS
@given(method=st.sampled_from(["rake", "raking", "logit"]), **problem)
def test_weights_positive_and_finite(method, seed, n, k):
    df, base, t = _problem(seed, n, k)
    w = _fit(df, base, t, method)
    assert np.isfinite(w).all() and (w > 0).all()
    if method == "logit":
        g = w / base
        assert g.min() >= 0.3 - 1e-12 and g.max() <= 3.0 + 1e-12


@SETTINGS
@given(method=methods, **problem)
def test_row_order_does_not_matter(method, seed, n, k):
    df, base, t = _problem(seed, n, k)
    w = _fit(df, base, t, method)
    perm = np.random.default_rng(seed + 1).permutation(n)
    wp = _fit(df.iloc[perm].reset_index(drop=True), base[perm], t, method)
    np.testing.assert_allclose(wp, w[perm], rtol=1e-9)


@SETTINGS
@given(
    method=st.sampled_from(["rake", "raking", "linear"]),
    scale=st.floats(1e-3, 1e3),
    **problem,
)
def test_scaling_base_weights_leaves_weights_unchanged(method, scale, seed, n, k):
    df, base, t = _problem(seed, n, k)
    w = _fit(df, base, t, method)
    ws = _fit(df, base * scale, t, method)
    np.testing.assert_allclose(ws, w, rtol=1e-8)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(12, 120), k=st.integers(1, 3))
def test_poststratify_hits_every_cell(seed, n, k):
    df, base, _ = _problem(seed, n, k)
    rng = np.random.default_rng(seed)
    cells = df.astype(str).agg(":".join, axis=1)
    tot = pd.Series(rng.uniform(1, 10, cells.nunique()), index=sorted(cells.unique()))
    t = Targets.from_frame(
        pd.DataFrame({"variable": ":".join(df.columns), "level": tot.index, "total": tot.values})
    )
    w = Sample(df, weight=base).poststratify(t).weight_array
    got = pd.Series(w).groupby(cells.to_numpy()).sum()
    np.testing.assert_allclose(got.loc[tot.index].to_numpy(), tot.to_numpy(), rtol=1e-12)
    # within a cell the weights keep the base weights' ratios
    ratio = pd.Series(w / base).groupby(cells.to_numpy())
    assert (ratio.max() - ratio.min()).max() <= 1e-9 * ratio.max().max()
