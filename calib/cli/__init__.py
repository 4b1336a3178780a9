"""The ``calib`` command line (:mod:`calib.cli.main`; one module a command in
:mod:`calib.cli.commands`).

>>> from calib.cli import main
>>> main(["--version"])
calib 0.1.0
0
"""

from calib.cli.main import app, main

__all__ = ["app", "main"]
