"""Response-bias correction with a small human sample (persona answers + human benchmark).

* :func:`ppi_mean`, :func:`ppi_proportion`, :func:`ppi` - PPI++ with power tuning and design
  weights in both arms; :func:`ppi_stratified` - per-stratum PPI++ combined with population
  shares; the effective human sample size the personas are worth.
* :func:`small_area` - Fay-Herriot composite of each domain's rectified estimate with a
  synthetic one (logit-scale rectifier model, REML, Datta-Lahiri MSE): a row for every domain,
  however few its humans.
* :func:`partisan` - calibrate personas to political margins (party ID, recalled vote) on top
  of demographics; :func:`recalled_vote_targets` from certified results.
* :func:`joint_mrp` - one multilevel model of persona and human answers with a source bias
  term, poststratified at the human level.
* :func:`plan_human_sample` - how many humans a target interval width needs.

See ``docs/methods/hybrid.md``.

Examples
--------
>>> from calib import hybrid
>>> "ppi_mean" in hybrid.__all__
True
"""

from __future__ import annotations

from calib.hybrid.joint_mrp import joint_mrp
from calib.hybrid.partisan import partisan, recalled_vote_targets
from calib.hybrid.planning import plan_human_sample
from calib.hybrid.ppi import (
    COLUMNS,
    ppi,
    ppi_mean,
    ppi_proportion,
)
from calib.hybrid.small_area import small_area
from calib.hybrid.stratified import ppi_stratified

__all__ = ["ppi", "ppi_mean", "ppi_proportion", "ppi_stratified", "small_area", "partisan",
           "recalled_vote_targets", "joint_mrp", "plan_human_sample", "COLUMNS"]
