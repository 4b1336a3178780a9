"""The helpers written once in calib.core.util (Kish ESS, z, refuse-to-overwrite) and the lazy
auxiliary matrix of a calibration step."""

import dataclasses
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from calib import Sample, Targets
from calib.core.errors import CalibError, DataError, OutputExistsError, TargetError
from calib.core.util import check_output, kish_ess, kish_ess_sums, z_value


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
def test_z_value_agrees_with_scipy(level):
    """The stdlib quantile the package uses and scipy's agree far below the 1e-12 budget."""
    assert z_value(level) == NormalDist().inv_cdf(0.5 + level / 2)
    assert z_value(level) == pytest.approx(float(norm.ppf(0.5 + level / 2)), rel=1e-14)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 95])
def test_z_value_refuses_levels_outside_0_1(level):
    with pytest.raises(DataError, match="between 0 and 1"):
        z_value(level)


def test_kish_ess_and_its_sums_form():
    w = np.array([0.5, 1.0, 2.0, 4.0, 4.0])
    assert kish_ess(w) == w.sum() ** 2 / (w**2).sum()
    assert kish_ess_sums(w.sum(), (w**2).sum()) == kish_ess(w)
    from calib.weighting.diagnostics import kish_ess as checked

    assert checked(w) == kish_ess(w)
    with pytest.raises(DataError):
        checked([1.0, -1.0])


def test_check_output_one_type_for_every_writer(tmp_path):
    p = tmp_path / "x.csv"
    assert check_output(p, overwrite=False) == p
    p.write_text("a\n1\n")
    assert check_output(p, overwrite=True) == p
    with pytest.raises(OutputExistsError, match=r"'--out' .*already exists; pass overwrite=True") as e:
        check_output(p, overwrite=False, what="'--out'")
    # one type, compatible with what the writers raised before
    assert isinstance(e.value, DataError) and isinstance(e.value, TargetError)
    assert isinstance(e.value, CalibError) and e.value.exit_code == 2


def test_calibration_matrix_is_lazy_and_the_step_immutable():
    """Raking keeps the dense auxiliary matrix unbuilt until estimation reads it."""
    df = pd.DataFrame({"sex": ["F", "M", "F", "M"] * 5, "age": ["y", "y", "o", "o"] * 5})
    t = Targets.from_frame(pd.DataFrame({"variable": ["sex", "sex", "age", "age"],
                                         "level": ["F", "M", "y", "o"],
                                         "share": [0.5, 0.5, 0.3, 0.7]}), population=100.0)
    cal = Sample(df).rake(t).history[-1].calibration
    assert "X" not in vars(cal) and callable(cal.auxiliary)
    X = cal.X
    assert X.shape == (cal.g.size, len(cal.labels))
    assert cal.X is X  # built once
    with pytest.raises(dataclasses.FrozenInstanceError):
        cal.g = np.zeros(1)  # type: ignore[misc]


@pytest.mark.parametrize("bounds", [(-0.5, 2.0), (-np.inf, 2.0), (1.2, 3.0), (0.5, 1.0),
                                    (np.nan, 2.0)])
def test_one_bounds_rule_on_every_path(bounds):
    """calibrate, optimal and --bounds share the CLI's rule 0 <= L < 1 < U: calibrate and
    optimal accepted a negative lower bound before."""
    from calib.weighting.distance import bound_pair, check_bounds, get

    with pytest.raises(DataError, match="0 <= L < 1 < U"):
        bound_pair(bounds)
    with pytest.raises(DataError, match="0 <= L < 1 < U"):
        check_bounds(get("linear"), bounds)
    df = pd.DataFrame({"s": ["a", "b"] * 4})
    t = Targets.from_frame(pd.DataFrame({"variable": "s", "level": ["a", "b"],
                                         "total": [4.0, 4.0]}))
    with pytest.raises(DataError, match="0 <= L < 1 < U"):
        Sample(df).calibrate(t, bounds=bounds)
    assert bound_pair((0, np.inf)) == (0.0, np.inf)
    assert bound_pair((-np.inf, np.inf)) == (-np.inf, np.inf)  # what an unbounded step records


def test_cli_bounds_message_names_the_flag(tmp_path, capsys):
    from calib.cli.main import main

    pd.DataFrame({"s": ["a", "b"] * 4}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"variable": "s", "level": ["a", "b"], "total": [4.0, 4.0]}).to_csv(
        tmp_path / "t.csv", index=False)
    code = main(["weight", str(tmp_path / "p.csv"), "--targets", str(tmp_path / "t.csv"),
                 "--method", "calibrate", "--bounds", "-0.5", "2",
                 "--out", str(tmp_path / "w.csv")])
    assert code == 2
    assert "--bounds -0.5 2.0: " in capsys.readouterr().err
