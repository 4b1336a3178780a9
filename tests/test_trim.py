"""trim() against R survey trimWeights() on calibrated api weights, and its error paths."""

import numpy as np
import pandas as pd
import pytest
from rsurvey import run_r

from calib import Sample
from calib.core.errors import DataError, InfeasibleError

R_SCRIPT = r"""
data(api)
dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)
st <- table(apipop$stype)
pop <- c(`(Intercept)`=nrow(apipop), stypeH=st[["H"]], stypeM=st[["M"]], api99=sum(apipop$api99))
cal <- calibrate(dclus1, ~stype+api99, pop, calfun="raking")
w <- weights(cal)
q90 <- unname(quantile(w, 0.9)); q10 <- unname(quantile(w, 0.1))
tw <- function(...) weights(trimWeights(cal, ...))
write.csv(data.frame(snum=apiclus1$snum, w=w,
  upper_strict=tw(upper=q90, strict=TRUE),
  upper_loose=tw(upper=q90),
  both_strict=tw(upper=q90, lower=q10, strict=TRUE),
  abs_strict=tw(upper=45, lower=28, strict=TRUE),
  mult=tw(upper=1.3 * mean(w), strict=TRUE)), "out_trim.csv", row.names=FALSE)
"""


@pytest.fixture(scope="module")
def r():
    return run_r(R_SCRIPT)["trim"]


def _check(ours: Sample, ref: pd.DataFrame, col: str) -> None:
    np.testing.assert_allclose(ours.weight_array, ref[col].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "col, opts",
    [
        ("upper_strict", {"quantile": 0.9}),
        ("upper_loose", {"quantile": 0.9, "strict": False}),
        ("abs_strict", {"upper": 45.0, "lower": 28.0}),
        ("mult", {"upper_mult": 1.3}),
    ],
)
def test_matches_r_trimweights(r, col, opts):
    s = Sample(r, weight="w").trim(**opts)
    _check(s, r, col)
    assert np.isclose(s.weight_array.sum(), r["w"].sum(), rtol=1e-12)


def test_both_limits_match_r(r):
    q10 = float(np.quantile(r["w"], 0.1))
    s = Sample(r, weight="w").trim(quantile=0.9, lower=q10)
    _check(s, r, "both_strict")
    w = s.weight_array
    assert w.max() <= np.quantile(r["w"], 0.9) * (1 + 1e-12) and w.min() >= q10 * (1 - 1e-12)
    opts = s.history[-1].options
    assert opts["n_upper"] > 0 and opts["n_lower"] > 0
    assert opts["n_trimmed"] == opts["n_upper"] + opts["n_lower"]


def test_proportional_keeps_ratios():
    w = np.array([1.0, 2.0, 3.0, 4.0, 30.0])
    s = Sample(pd.DataFrame({"x": range(5)}), weight=w).trim(
        upper=10.0, redistribute="proportional"
    )
    out = s.weight_array
    assert out[-1] == 10.0 and np.isclose(out[3], 10.0) and np.isclose(out.sum(), 40.0)
    np.testing.assert_allclose(out[:3] / w[:3], 20.0 / 6.0)  # the rest share one factor


def test_errors():
    s = Sample(pd.DataFrame({"x": range(4)}), weight=[1.0, 1.0, 1.0, 5.0])
    with pytest.raises(InfeasibleError, match="cannot hold the total"):
        s.trim(upper=1.5)
    with pytest.raises(InfeasibleError, match="exceeds the mean"):
        s.trim(upper=4.0, lower=2.5)
    with pytest.raises(DataError, match="one of upper"):
        s.trim(upper=4.0, quantile=0.9)
    with pytest.raises(DataError, match="give an upper limit"):
        s.trim()
    with pytest.raises(DataError, match="redistribute"):
        s.trim(upper=4.0, redistribute="random")


def test_nothing_to_trim_is_a_no_op():
    s = Sample(pd.DataFrame({"x": range(3)}), weight=[1.0, 2.0, 3.0])
    t = s.trim(upper=10.0)
    assert t.weight_array.tolist() == [1.0, 2.0, 3.0] and t.history[-1].options["n_trimmed"] == 0
