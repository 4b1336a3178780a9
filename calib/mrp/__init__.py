"""Bayesian multilevel regression and poststratification (MRP) on cells, with PyMC.

* :func:`fit` - binomial or multinomial model of an outcome on the sample's cell table, with
  sum-to-zero varying intercepts, fixed effects, domain-level predictors and interactions;
  a diagnostics gate (R-hat, ESS, divergences; :class:`Gate`) on every fit. The sampling
  settings are one :class:`Sampler` (backend, draws, tune, chains, seed, target_accept ...).
* :func:`poststratify` - posterior draws of domain and national means over a frame.
* :func:`extend_frame` - add a variable the census frame lacks (party ID, past vote) from a
  reference survey; :func:`update_frame` - rake the frame to newer margins.

See ``docs/methods/mrp.md``.

Examples
--------
>>> from calib import mrp
>>> sorted(mrp.__all__)[:3]
['Gate', 'MRPEstimate', 'MRPFit']
"""

from __future__ import annotations

from calib.mrp.diagnostics import THRESHOLDS, Gate
from calib.mrp.frame import extend_frame, update_frame
from calib.mrp.model import MRPFit, fit
from calib.mrp.poststrat import MRPEstimate, poststratify
from calib.mrp.sampler import Sampler, fit_options

__all__ = ["fit", "poststratify", "extend_frame", "update_frame", "MRPFit", "MRPEstimate",
           "Sampler", "Gate", "fit_options", "THRESHOLDS"]
