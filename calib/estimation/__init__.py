"""Weighted estimates with honest uncertainty: linearization and replicate weights.

``estimate(sample, outcome, ...)`` (or ``estimate(sample, EstimateRequest(...))``: the same
options in one object) gives means, totals and proportions (by domain) with standard errors
that account for the design (strata, clusters) and for the calibration steps the weights went
through; ``replicate_weights`` exports recalibrated replicate weights.
"""

from calib.estimation.estimate import COLUMNS, estimate
from calib.estimation.replicates import replicate_weights
from calib.estimation.request import EstimateRequest

__all__ = ["estimate", "EstimateRequest", "replicate_weights", "COLUMNS"]
