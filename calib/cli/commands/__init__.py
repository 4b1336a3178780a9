"""The ``calib`` commands, one module each, registered in one place (:data:`COMMANDS`).

Each module has ``register(app)`` that adds its command(s) to the Typer app; modules import
the layers that load heavy dependencies (the models and studies: SciPy, numba, PyMC, cvxpy,
matplotlib) inside the command body only, so ``calib --help`` starts fast; core, data and the
shared CLI helpers are imported at the top.

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


def register_all(app: Any) -> None:
    """Register every command module's commands on ``app``."""
    for name in COMMANDS:
        import_module(f"{__name__}.{name}").register(app)


__all__ = ["COMMANDS", "register_all"]
