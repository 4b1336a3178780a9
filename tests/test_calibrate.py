"""calibrate() against R survey calibrate() on R's api data, and its error paths."""

import numpy as np
import pandas as pd
import pytest
from rsurvey import run_r

from calib import Sample, Targets
from calib.core.errors import ConvergenceError, DataError, InfeasibleError
from calib.weighting.calibrate import newton
from calib.weighting.distance import get

R_SCRIPT = r"""
data(api)
dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)
dstrat <- svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)
N <- nrow(apipop)
st <- table(apipop$stype); sw <- table(apipop$sch.wide)
p99 <- c(`(Intercept)`=N, stypeH=st[["H"]], stypeM=st[["M"]], api99=sum(apipop$api99))
penr <- c(`(Intercept)`=N, stypeH=st[["H"]], stypeM=st[["M"]],
          enroll=sum(apipop$enroll, na.rm=TRUE))
p2 <- c(`(Intercept)`=N, stypeH=st[["H"]], stypeM=st[["M"]], sch.wideYes=sw[["Yes"]])
cl <- function(...) weights(calibrate(dclus1, ...))
sr <- function(...) weights(calibrate(dstrat, ...))
write.csv(data.frame(snum=apiclus1$snum, stype=apiclus1$stype, sch.wide=apiclus1$sch.wide,
  api99=apiclus1$api99, enroll=apiclus1$enroll, pw=apiclus1$pw,
  linear=cl(~stype+api99, p99),
  raking=cl(~stype+api99, p99, calfun="raking"),
  logit=cl(~stype+api99, p99, calfun="logit", bounds=c(0.7, 1.7)),
  truncated=cl(~stype+api99, p99, calfun="linear", bounds=c(0.7, 1.7)),
  raking_bounded=cl(~stype+api99, p99, calfun="raking", bounds=c(0.7, 1.7)),
  two_margins=cl(~stype+sch.wide, p2, calfun="raking"),
  two_margins_linear=cl(~stype+sch.wide, p2),
  trimmed=suppressMessages(cl(~stype+api99, p99, calfun="raking", trim=c(0.8, 1.5)))),
  "out_clus1.csv", row.names=FALSE)
write.csv(data.frame(snum=apistrat$snum, stype=apistrat$stype, enroll=apistrat$enroll,
  pw=apistrat$pw,
  linear=sr(~stype+enroll, penr),
  raking=sr(~stype+enroll, penr, calfun="raking"),
  logit=sr(~stype+enroll, penr, calfun="logit", bounds=c(0.5, 2.5))),
  "out_strat.csv", row.names=FALSE)
write.csv(data.frame(stype=names(st), n=as.vector(st)), "out_stype.csv", row.names=FALSE)
write.csv(data.frame(level=names(sw), n=as.vector(sw)), "out_schwide.csv", row.names=FALSE)
write.csv(data.frame(api99=sum(apipop$api99), enroll=sum(apipop$enroll, na.rm=TRUE)),
  "out_numeric.csv", row.names=FALSE)
"""


@pytest.fixture(scope="module")
def r():
    return run_r(R_SCRIPT)


def _targets(r, numeric=None, schwide=False):
    st = r["stype"]
    rows = [("stype", s, float(n)) for s, n in zip(st["stype"], st["n"], strict=True)]
    if schwide:
        sw = r["schwide"]
        rows += [("sch.wide", s, float(n)) for s, n in zip(sw["level"], sw["n"], strict=True)]
    if numeric:
        rows.append((numeric, "", float(r["numeric"][numeric].iloc[0])))
    return Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]))


def _check(ours: Sample, ref: pd.DataFrame, col: str) -> None:
    got = pd.Series(ours.weight_array, index=ours.frame["snum"].to_numpy())
    want = ref.set_index("snum")[col]
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "col, opts",
    [
        ("linear", {}),
        ("raking", {"distance": "raking"}),
        ("logit", {"distance": "logit", "bounds": (0.7, 1.7)}),
        ("truncated", {"distance": "truncated", "bounds": (0.7, 1.7)}),
        ("raking_bounded", {"distance": "raking", "bounds": (0.7, 1.7)}),
    ],
)
def test_clus1_numeric_auxiliary_matches_r(r, col, opts):
    ref = r["clus1"]
    s = Sample(ref, weight="pw").calibrate(_targets(r, "api99"), **opts)
    _check(s, ref, col)
    step = s.history[-1]
    assert step.converged and step.max_error < 1e-7
    cal = s.calibrations[-1]
    assert cal.X.shape[1] == 4 and cal.labels[-1] == ("api99", "")


def test_clus1_bounds_hold(r):
    ref = r["clus1"]
    for dist in ("logit", "truncated"):
        s = Sample(ref, weight="pw").calibrate(
            _targets(r, "api99"), distance=dist, bounds=(0.7, 1.7)
        )
        g = s.weight_array / ref["pw"].to_numpy()
        assert g.min() >= 0.7 - 1e-9 and g.max() <= 1.7 + 1e-9


def test_two_categorical_margins_rank_deficient_matches_r(r):
    ref = r["clus1"]
    t = _targets(r, schwide=True)
    _check(Sample(ref, weight="pw").calibrate(t, distance="raking"), ref, "two_margins")
    _check(Sample(ref, weight="pw").calibrate(t), ref, "two_margins_linear")


def test_trim_option_matches_r(r):
    ref = r["clus1"]
    # R ignores trim= for unbounded linear calibration (it takes the regcalibrate path)
    s = Sample(ref, weight="pw").calibrate(_targets(r, "api99"), distance="raking", trim=(0.8, 1.5))
    _check(s, ref, "trimmed")
    assert any("trimmed" in n for n in s.history[-1].notes)


@pytest.mark.parametrize(
    "col, opts",
    [
        ("linear", {}),
        ("raking", {"distance": "raking"}),
        ("logit", {"distance": "logit", "bounds": (0.5, 2.5)}),
    ],
)
def test_strat_enroll_matches_r(r, col, opts):
    ref = r["strat"]
    _check(Sample(ref, weight="pw").calibrate(_targets(r, "enroll"), **opts), ref, col)


def test_infeasible_entry_is_named(r):
    ref = r["clus1"]
    # stype=H needs g = 755 / (14 * 33.85) = 1.59
    with pytest.raises(InfeasibleError, match=r"stype=H"):
        Sample(ref, weight="pw").calibrate(_targets(r), distance="raking", bounds=(0.9, 1.1))


def test_jointly_infeasible_found_by_lp():
    df = pd.DataFrame({"a": ["p", "q"] * 5, "b": ["x", "y"] * 5})
    t = Targets.from_frame(pd.DataFrame({
        "variable": ["a", "a", "b", "b"], "level": ["p", "q", "x", "y"],
        "total": [7.5, 2.5, 2.5, 7.5]}))  # fmt: skip
    with pytest.raises(InfeasibleError, match="cannot be met together"):
        Sample(df).calibrate(t, distance="truncated", bounds=(0.4, 1.6))


def test_nonconvergence_names_worst_margin(r):
    ref = r["clus1"]
    t = _targets(r, "api99")
    with pytest.raises(ConvergenceError, match="worst margin"):
        Sample(ref, weight="pw").calibrate(t, distance="raking", max_iter=1)
    with pytest.warns(UserWarning, match="did not converge"):
        s = Sample(ref, weight="pw").calibrate(
            t, distance="raking", max_iter=1, allow_nonconvergence=True
        )
    assert not s.history[-1].converged


def test_negative_linear_weights_refused():
    df = pd.DataFrame({"s": ["a"] * 4, "x": [1.0, 2.0, 3.0, 10.0]})
    t = Targets.from_frame(pd.DataFrame({
        "variable": ["s", "x"], "level": ["a", ""], "total": [4.0, 40.0]}))  # fmt: skip
    with pytest.raises(InfeasibleError, match="negative weights"):
        Sample(df).calibrate(t)
    w = Sample(df).calibrate(t, distance="raking").weight_array
    assert np.isclose(w.sum(), 4.0) and np.isclose(w @ df["x"], 40.0) and (w > 0).all()


def test_bad_options():
    df = pd.DataFrame({"s": ["a", "b"]})
    t = Targets.from_frame(
        pd.DataFrame({"variable": "s", "level": ["a", "b"], "total": [1.0, 1.0]})
    )
    with pytest.raises(DataError, match="finite bounds"):
        Sample(df).calibrate(t, distance="logit")
    with pytest.raises(DataError, match="lower < 1 < upper"):
        Sample(df).calibrate(t, bounds=(1.2, 3))
    with pytest.raises(DataError, match="not a calibration distance"):
        Sample(df).calibrate(t, distance="chi2")


def test_damped_newton_rescues_logit_where_full_steps_stall():
    df = pd.DataFrame({"c": ["a"] * 3, "x": [4.757, 2.966, 5.795]})
    w = np.array([1.058, 0.676, 1.287])
    t = Targets.from_frame(
        pd.DataFrame({"variable": ["c", "x"], "level": ["a", ""], "total": [13.6229, 65.9149]})
    )
    X = np.column_stack([np.ones(3), df["x"]])
    full = newton(X, w, np.array([13.6229, 65.9149]), get("logit"), (0.2, 6.0))
    assert not full.converged  # R's grake stops here too
    s = Sample(df, weight=w).calibrate(t, distance="logit", bounds=(0.2, 6.0), tol=1e-10)
    out = s.weight_array
    assert np.isclose(out.sum(), 13.6229, rtol=1e-9) and np.isclose(out @ df["x"], 65.9149)
    g = out / w
    assert g.min() > 0.2 and g.max() < 6.0
    assert any("damped Newton" in n for n in s.history[-1].notes)
