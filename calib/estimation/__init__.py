"""Weighted estimates with honest uncertainty: linearization and replicate weights.

``estimate(sample, outcome, ...)`` gives means, totals and proportions (by domain) with
standard errors that account for the design (strata, clusters) and for the calibration steps
the weights went through; ``replicate_weights`` exports recalibrated replicate weights.
"""

from calib.estimation.estimate import COLUMNS, estimate
from calib.estimation.replicates import replicate_weights

__all__ = ["estimate", "replicate_weights", "COLUMNS"]
