"""Election layer: state estimates -> electoral college simulation; backtests vs certified results.

>>> from calib.election import forecast, backtest, Forecast
"""

from calib.election.backtest import backtest
from calib.election.forecast import Forecast, forecast, read_state_estimates
from calib.election.turnout import TurnoutModel, likely_voter_frame, turnout_propensity

__all__ = [
    "Forecast",
    "forecast",
    "backtest",
    "read_state_estimates",
    "TurnoutModel",
    "turnout_propensity",
    "likely_voter_frame",
]
