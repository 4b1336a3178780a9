"""Bounded calibration of input weights far below the population, against R calibrate: R
rescales the weights before bounding by the mean population/sample ratio over its
model-matrix columns (intercept kept, one level per factor dropped), when every ratio
exceeds 20 (issue 17; calib averaged over every indicator column before)."""

import numpy as np
import pytest
from rsurvey import run_r

from calib import Sample, Targets
from calib.weighting.calibrate import model_columns, rescale_factor

R = r"""
data(api)
d <- svydesign(id=~1, weights=~w, data=transform(apistrat, w=0.5))
pop <- c(`(Intercept)`=nrow(apipop), stypeH=sum(apipop$stype=="H"),
         stypeM=sum(apipop$stype=="M"), sch.wideYes=sum(apipop$sch.wide=="Yes"),
         api99=sum(apipop$api99))
st <- colSums(model.matrix(~stype + sch.wide + api99, apistrat) * 0.5)
out <- NULL
for (b in list(c(0.5, 2.0), c(0.55, 1.75))) {
  cd <- calibrate(d, ~stype + sch.wide + api99, pop, calfun="linear", bounds=b,
                  epsilon=1e-12, maxit=500)
  out <- rbind(out, data.frame(lo=b[1], hi=b[2], row=seq_len(nrow(apistrat)),
                               w=weights(cd), scale=mean(pop / st)))
}
write.csv(out, "out_w.csv", row.names=FALSE)
write.csv(apistrat, "out_apistrat.csv", row.names=FALSE)
tg <- rbind(data.frame(variable="stype", level=c("E", "H", "M"),
                       total=as.vector(table(apipop$stype)[c("E", "H", "M")])),
            data.frame(variable="sch.wide", level=c("No", "Yes"),
                       total=as.vector(table(apipop$sch.wide)[c("No", "Yes")])),
            data.frame(variable="api99", level="", total=sum(apipop$api99)))
write.csv(tg, "out_targets.csv", row.names=FALSE)
"""


@pytest.fixture(scope="module")
def ref():
    return run_r(R)


@pytest.mark.parametrize("bounds", [(0.5, 2.0), (0.55, 1.75)])
def test_bounded_calibration_rescales_as_r(ref, bounds):
    data = ref["apistrat"]
    tg = ref["targets"].copy()
    tg["level"] = tg["level"].fillna("")
    s = Sample(data, weight=np.full(len(data), 0.5))
    with pytest.warns(UserWarning, match="rescaled"):
        c = s.calibrate(Targets.from_frame(tg), bounds=bounds, tol=1e-12, max_iter=500)
    r = ref["w"][ref["w"]["lo"] == bounds[0]]
    np.testing.assert_allclose(c.history[-1].options["rescale"], r["scale"].iloc[0],
                               rtol=1e-12)
    np.testing.assert_allclose(c.weight_array, r["w"].to_numpy(), rtol=1e-8)


def test_rescale_over_model_matrix_columns():
    """Two margins of 2 and 3 levels: R's columns are the intercept, one level of the first
    margin and two of the second (the first in sorted order dropped)."""
    labels = [("a", "y"), ("a", "x"), ("b", "p"), ("b", "q"), ("b", "r")]
    M = model_columns(labels)
    assert M.shape == (5, 4)
    X = np.array([[1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 1, 0, 0, 1]], dtype=float)
    totals = np.array([30.0, 70.0, 30.0, 30.0, 40.0])
    # R: intercept 100/3, a=y 30/1, b=q 30/1, b=r 40/1; all indicators: 30, 35, 30, 30, 40
    r_mean = (100 / 3 + 30 + 30 + 40) / 4
    assert rescale_factor(X, np.ones(3), totals, M) == pytest.approx(r_mean, rel=1e-15)
    assert rescale_factor(X, np.ones(3), totals) == pytest.approx(33.0, rel=1e-15)
