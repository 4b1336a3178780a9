"""The ``calib`` commands, one module each, registered in one place (:data:`COMMANDS`).

Each module has ``register(app)`` that adds its command(s) to the Typer app; modules import
the layers that load heavy dependencies (the models and studies: SciPy, numba, PyMC, cvxpy,
matplotlib) inside the command body only. The ``calib`` app loads a command's module only when
that command runs (:class:`calib.cli.main.LazyGroup`); ``calib --help`` lists the commands
from :data:`HELP` without importing any of them (a test keeps :data:`HELP` equal to the
commands' own help), so it starts without pandas or numpy.

Examples
--------
>>> "weight" in COMMANDS and "estimate" in COMMANDS
True
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: command modules, in the order ``calib --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "weight", "estimate", "mrp", "hybrid", "forecast", "backtest", "simulate", "compare", "run",
    "targets", "recode", "answers", "demo",
)

#: command name -> (module, the first paragraph of its help), for ``calib --help``.
HELP: dict[str, tuple[str, str]] = {
    "weight": ("weight", 'Weight INPUT to --targets and write every row with its weight to --out.'),
    "estimate": ("estimate", 'Weighted estimates of --outcome (by --by) with SEs and confidence intervals.'),
    "mrp": ("mrp", 'Fit a multilevel logistic (or categorical) model on the cells of INPUT (sum-to-zero '
                   'varying intercepts for --group and --interaction, fixed effects for --fixed and for '
                   'two-level --group variables; centred or non-centred per term from the data), check '
                   'the diagnostics gate (R-hat <= 1.01, bulk and tail ESS >= 400, no divergences: exit '
                   '3 when it fails, or a warning and a gate column with --gate warn) and poststratify '
                   'over FRAME by --by. A progress bar shows while sampling; the posterior summary '
                   'prints at the end.'),
    "hybrid": ("hybrid", 'Correct persona answers with a small human sample: PPI++ (prediction-powered '
                         'inference, the humans rectify the persona estimate; direct per domain), a small-area'
                         ' (Fay-Herriot) composite, a joint persona-human MRP with one persona-bias term, or '
                         'partisan calibration. The output has the columns of `calib estimate` plus n_human, '
                         'n_effective_human, lambda and estimator.'),
    "forecast": ("forecast", 'Simulate the electoral college from state estimates (correlated by a national '
                             'swing).'),
    "backtest": ("backtest", 'Score a forecast against certified results: RMSE and bias of the D two-party share, '
                             'winners called, Brier and log score of P(D win), EV error, interval coverage.'),
    "simulate": ("simulate", 'Simulate a persona election study with known truth (composition and response bias by'
                             ' persona type, an ANES-sized human sample) and write it to files.'),
    "compare": ("compare", 'Run several methods on one persona set against a benchmark: bias, RMSE, coverage, '
                           'winners called, ESS and run time per method.'),
    "run": ("run", 'Run a study file: personas -> methods -> forecasts -> backtests -> outputs.'),
    "targets": ("targets", 'The census targets shipped with calib: list, show, export.'),
    "recode": ("recode", "Recode INPUT's attributes onto calib's harmonized levels with a codebook and write "
                         'the raw columns plus one column per codebook target. Unmapped values are an error '
                         'listing each value with its row count.'),
    "answers": ("answers", 'Join a long answer file of the seed pipeline to its personas: letters become the '
                           'stances of their row (or question file), INVALID/ABSTAIN and unparseable decisions '
                           "are non-response (counted per question), and each answer gets its persona's "
                           'attributes.'),
    "demo": ("demo", 'Rake a shipped survey to census targets, print diagnostics and weighted estimates.'),
}


def register(app: Any, name: str) -> None:
    """Register the commands of the module that holds command ``name`` on ``app``."""
    import_module(f"{__name__}.{HELP[name][0]}").register(app)


def register_all(app: Any) -> None:
    """Register every command module's commands on ``app``."""
    for name in COMMANDS:
        import_module(f"{__name__}.{name}").register(app)


__all__ = ["COMMANDS", "HELP", "register", "register_all"]
