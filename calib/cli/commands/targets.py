"""``calib targets list|show NAME|export NAME --out FILE``: the shipped census targets.

Names: ``cvap-national`` / ``cvap-state`` (citizens 18+, the ACS 2014-2018 CVAP poststratification frame, 50 states;
totals) and ``acs2023-national`` / ``acs2023-state`` (ACS 2023 1-year state Data Profiles,
:func:`calib.data.datasets.acs.acs2023_targets`: totals of adults 18+, each margin's universe in
its ``universe`` column). ``--variables`` picks harmonized variables (default: the seed
personas' margins for ACS, the frame's variables for CVAP); ``--states`` restricts to USPS codes.

Examples
--------
>>> [n for n, _ in NAMES.items()][:2]
['cvap-national', 'cvap-state']
>>> build("cvap-national", ["sex"])["sex"].values.tolist()
[117698473.0, 110744874.0]
"""

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from calib.cli.commands._io import check_out, dumps, frame_records, write_frame
from calib.core.errors import TargetError
from calib.core.literals import Universe

#: name -> (universe, by, default variables, description)
NAMES: dict[str, tuple[Universe | Literal["acs2023-profiles"], str | None, tuple[str, ...], str]] = {
    "cvap-national": ("cvap", None, ("sex", "age6", "race4", "educ5"),
                      "US citizens 18+ (ACS 2014-2018 CVAP frame), one-way margins, totals"),
    "cvap-state": ("cvap", "state", ("sex", "age6", "race4", "educ5"),
                   "US citizens 18+ (ACS 2014-2018 CVAP frame), variable:state margins, totals"),
    "acs2023-national": ("acs2023-profiles", None, ("age_acs", "sex", "race7", "educ7"),
                         "ACS 2023 1-year state profiles, adults 18+, one-way margins, totals"),
    "acs2023-state": ("acs2023-profiles", "state", ("age_acs", "sex", "race7", "educ7"),
                      "ACS 2023 1-year state profiles, adults 18+, variable:state, totals"),
}


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def build(name: str, variables: list[str] | None = None,
          states: list[str] | None = None) -> Any:
    """The :class:`calib.Targets` a shipped name stands for."""
    if name not in NAMES:
        raise TargetError(f"targets {name!r} is not shipped; choose one of {list(NAMES)} "
                          "(calib targets list)")
    # the datasets read their tables with pandas: imported here, not for ``targets list``
    from calib.data.datasets import acs2023_targets, census_targets

    universe, by, default, _ = NAMES[name]
    chosen = _split(variables) or list(default)
    if universe == "acs2023-profiles":
        return acs2023_targets(chosen, states=_split(states), by=by)
    return census_targets(chosen, by=by, universe=universe, states=_split(states))


# Option types shared by the subcommands (module level: a type checker reads them as aliases)
Vars = Annotated[list[str] | None, typer.Option(
    "--variables", help="harmonized variables, comma-separated or repeated")]
States = Annotated[list[str] | None, typer.Option(
    "--states", help="USPS state codes, comma-separated or repeated")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]


def register(app: typer.Typer) -> None:
    """Register the ``targets`` group on the ``calib`` app."""
    group = typer.Typer(help="The census targets shipped with calib: list, show, export.",
                        no_args_is_help=True)
    app.add_typer(group, name="targets")

    @group.command("list")
    def list_(as_json: Json = False) -> None:
        """List the shipped target sets."""
        rows = [{"name": n, "universe": u, "by": b or "", "variables": ",".join(v),
                 "description": d} for n, (u, b, v, d) in NAMES.items()]
        if as_json:
            typer.echo(dumps(rows))
            return
        for r in rows:
            typer.echo(f"{r['name']:<18} {r['description']} [default: {r['variables']}]")

    @group.command("show")
    def show(
        name: Annotated[str, typer.Argument(help="a name from calib targets list")],
        variables: Vars = None, states: States = None, as_json: Json = False,
    ) -> None:
        """Print a shipped target set in the long format."""
        t = build(name, variables, states)
        df = t.to_frame()
        if as_json:
            typer.echo(dumps({"name": name, "population": t.population,
                              "targets": frame_records(df)}))
            return
        typer.echo(f"{name}: population {t.population:,.0f}; {len(df)} rows")
        typer.echo(df.to_string(index=False))

    @group.command("export")
    def export(
        name: Annotated[str, typer.Argument(help="a name from calib targets list")],
        out: Annotated[Path, typer.Option("--out", help="output file (CSV or Parquet)")],
        variables: Vars = None, states: States = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="replace --out")] = False,
        as_json: Json = False,
    ) -> None:
        """Write a shipped target set to a file (long format, usable as --targets)."""
        check_out(out, overwrite)
        t = build(name, variables, states)
        write_frame(t.to_frame(), out, overwrite)  # Targets.write's bytes, via the output layer
        if as_json:
            typer.echo(dumps({"name": name, "out": str(out), "rows": len(t.to_frame())}))
        else:
            typer.echo(f"wrote {name} ({len(t.to_frame())} rows) to {out}")


__all__ = ["NAMES", "build", "register"]
