"""Data shipped with calib: election results, census targets and frames, benchmark surveys.

Every loader reads files installed with the package (``calib/_data`` in a wheel, ``data/`` in a
checkout); nothing is downloaded. Sources, licences and checks: ``data/PROVENANCE.md``;
the harmonized coding: ``docs/variables.md``; one page per dataset: ``docs/data.md``.

Examples
--------
>>> from calib import datasets
>>> int(datasets.poststrat_frame()["n"].sum())
228443347
"""

from __future__ import annotations

from calib.data.datasets.acs import acs2023_counts, acs2023_targets
from calib.data.datasets.census import (
    census_population,
    census_targets,
    poststrat_frame,
    state_predictors,
)
from calib.data.datasets.elections import YEARS as ELECTION_YEARS
from calib.data.datasets.elections import district_results, election_results, electoral_votes
from calib.data.datasets.surveys import anes2020, cces2018, gss

__all__ = [
    "election_results",
    "electoral_votes",
    "district_results",
    "ELECTION_YEARS",
    "poststrat_frame",
    "state_predictors",
    "census_population",
    "census_targets",
    "acs2023_targets",
    "acs2023_counts",
    "anes2020",
    "cces2018",
    "gss",
]
