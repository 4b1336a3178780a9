"""Population targets: one-way and joint margins, numeric auxiliaries, totals or shares.

File format (CSV or Parquet, long): columns ``variable, level, total`` or
``variable, level, share``, optional ``se``, ``universe`` and ``source``. A joint margin is
written ``variable=age:state`` with ``level=18-29:TX``; its shares are shares of the whole
population. A numeric auxiliary (the population total of a numeric column) has an empty level.
Shares become totals with a population total given by the caller, else the sample's total
base weight (see :meth:`Targets.resolve`).

Examples
--------
>>> import pandas as pd
>>> t = Targets.from_frame(pd.DataFrame({
...     "variable": ["sex", "sex", "age", "age"],
...     "level": ["F", "M", "young", "old"],
...     "share": [0.52, 0.48, 0.4, 0.6]}))
>>> t.resolve(1000)["sex"].values.tolist()
[520.0, 480.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from calib.core.cells import format_level
from calib.core.errors import CalibError, TargetError
from calib.core.literals import Scale
from calib.core.util import check_output, read_csv_text

JOINT_SEP = ":"


@dataclass(frozen=True)
class Margin:
    """One margin: population totals (or shares) over the levels of one or more variables.

    Attributes
    ----------
    variables : ``("age",)`` for a one-way margin, ``("age", "state")`` for a joint one.
    levels : one tuple of level text per entry (length ``len(variables)``); empty for numeric.
    values : totals or shares, one per entry (one value for a numeric auxiliary).
    scale : ``"total"`` or ``"share"``.
    se : optional standard error per entry, on the same scale as ``values``.
    numeric : True for the population total of a numeric variable.
    universe, source : free-text provenance (e.g. ``"citizens 18+"``, ``"ACS 2023 DP05"``).
    """

    variables: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    values: np.ndarray
    scale: Scale = "total"
    se: np.ndarray | None = None
    numeric: bool = False
    universe: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", tuple(self.variables))
        object.__setattr__(self, "levels", tuple(tuple(map(str, lv)) for lv in self.levels))
        vals = np.asarray(self.values, dtype=float).ravel()
        object.__setattr__(self, "values", vals)
        if self.se is not None:
            object.__setattr__(self, "se", self._checked_se(vals))
        if self.scale not in ("total", "share"):
            raise TargetError(f"margin {self.name!r}: scale must be 'total' or 'share'")
        if not np.all(np.isfinite(vals)):
            bad = [self._label(i) for i in np.flatnonzero(~np.isfinite(vals))]
            raise TargetError(f"margin {self.name!r}: non-finite target values at levels {bad}")
        if self.numeric:
            if len(self.variables) != 1 or vals.size != 1:
                raise TargetError(
                    f"numeric auxiliary {self.name!r}: give one variable and one total (empty level)"
                )
            return
        self._check_levels(vals)

    def _checked_se(self, vals: np.ndarray) -> np.ndarray:
        se = np.asarray(self.se, dtype=float).ravel()
        if se.shape != vals.shape:
            raise TargetError(f"margin {self.name!r}: se has {se.size} entries, values {vals.size}")
        if np.any(~np.isfinite(se)) or np.any(se < 0):
            raise TargetError(f"margin {self.name!r}: se must be finite and >= 0")
        return se

    def _check_levels(self, vals: np.ndarray) -> None:
        """A categorical margin: one level per value, one part per variable, no repeats, >= 0."""
        if len(self.levels) != vals.size:
            raise TargetError(f"margin {self.name!r}: {len(self.levels)} levels but {vals.size} values")
        for lv in self.levels:
            if len(lv) != len(self.variables):
                raise TargetError(
                    f"margin {self.name!r}: level {JOINT_SEP.join(lv)!r} has {len(lv)} parts, "
                    f"expected {len(self.variables)} (one per variable, joined by '{JOINT_SEP}')"
                )
        if len(set(self.levels)) != len(self.levels):
            seen: set = set()
            dups = [JOINT_SEP.join(lv) for lv in self.levels if lv in seen or seen.add(lv)]
            raise TargetError(f"margin {self.name!r}: duplicate levels {sorted(set(dups))}; keep one row each")
        if np.any(vals < 0):
            bad = [self._label(i) for i in np.flatnonzero(vals < 0)]
            raise TargetError(f"margin {self.name!r}: negative targets at levels {bad}")

    def _label(self, i: int | np.integer) -> str:
        return JOINT_SEP.join(self.levels[i]) if self.levels else ""

    @property
    def name(self) -> str:
        """The margin's name as written in a targets file (``age`` or ``age:state``)."""
        return JOINT_SEP.join(self.variables)

    @property
    def total(self) -> float:
        """Sum of the values (the population total for a categorical margin of totals)."""
        return float(self.values.sum())

    def level_labels(self) -> list[str]:
        """Level text as written in a file (``18-29:TX`` for joint margins)."""
        return [JOINT_SEP.join(lv) for lv in self.levels]

    def as_totals(self, population: float) -> Margin:
        """This margin with shares turned into totals (a no-op for totals)."""
        if self.scale == "total":
            return self
        se = None if self.se is None else self.se * population
        return replace(self, values=self.values * population, se=se, scale="total")

    def to_frame(self) -> pd.DataFrame:
        col = "total" if self.scale == "total" else "share"
        df = pd.DataFrame(
            {
                "variable": self.name,
                "level": [""] if self.numeric else self.level_labels(),
                col: self.values,
            }
        )
        if self.se is not None:
            df["se"] = self.se
        if self.universe is not None:
            df["universe"] = self.universe
        if self.source is not None:
            df["source"] = self.source
        return df


@dataclass(frozen=True)
class Targets:
    """A set of margins with an optional population total and provenance.

    Construction validates: shares of each categorical margin sum to 1 (within ``share_tol``;
    otherwise the error says by how much), margins of totals agree on the population total
    (else an error naming the two that disagree), nested margins agree (a joint margin
    summed over a variable equals the one-way margin given for the rest), no duplicate levels.
    """

    margins: tuple[Margin, ...]
    population: float | None = None
    provenance: Mapping[str, str] = field(default_factory=dict)
    share_tol: float = 1e-6
    total_rtol: float = 1e-6

    def __post_init__(self) -> None:
        object.__setattr__(self, "margins", tuple(self.margins))
        names = [m.name for m in self.margins]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise TargetError(f"margins given twice: {dup}; merge them into one margin each")
        if self.population is not None and not (np.isfinite(self.population) and self.population > 0):
            raise TargetError(f"population must be a positive number, got {self.population!r}")
        self._check_shares()
        if self.population is not None or all(m.scale == "total" for m in self.margins):
            self._check_totals()

    # -- validation -------------------------------------------------------------------
    def _check_shares(self) -> None:
        for m in self.margins:
            if m.scale == "share" and not m.numeric:
                miss = m.total - 1.0
                if abs(miss) > self.share_tol:
                    raise TargetError(
                        f"margin {m.name!r}: shares sum to {m.total:.8g}, missing 1 by {miss:+.3g}. "
                        "Fix the shares, or rescale them explicitly with Targets.normalized()"
                    )

    def _check_totals(self) -> None:
        cat = [m for m in self.margins if not m.numeric]
        if self.population is None and any(m.scale == "share" for m in cat):
            return
        pop = self.population or 1.0
        tot = [(m, m.as_totals(pop)) for m in cat]
        if not tot:
            return
        first, first_t = tot[0]
        for m, mt in tot[1:]:
            if not np.isclose(mt.total, first_t.total, rtol=self.total_rtol, atol=0):
                raise TargetError(
                    f"margins {first.name!r} and {m.name!r} disagree on the population total "
                    f"({first_t.total:.10g} vs {mt.total:.10g}, {mt.total / first_t.total - 1:+.3g} "
                    "relative). Make them consistent (same universe), or give shares and a "
                    "population total"
                )
        # nested margins
        by_vars = {frozenset(m.variables): mt for m, mt in tot}
        for m, mt in tot:
            if len(m.variables) < 2:
                continue
            for sub, st in by_vars.items():
                if sub < frozenset(m.variables) and sub:
                    agg = _aggregate(mt, st.variables)
                    for lv, val in zip(st.levels, st.values, strict=True):
                        got = agg.get(lv, 0.0)
                        if not np.isclose(got, val, rtol=max(self.total_rtol, 1e-9), atol=1e-9 * pop):
                            raise TargetError(
                                f"joint margin {m.name!r} summed to {st.name!r} gives {got:.10g} at "
                                f"level {JOINT_SEP.join(lv)!r}, but margin {st.name!r} says "
                                f"{val:.10g}. Nested margins must agree; drop one or fix the values"
                            )

    # -- access -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[Margin]:
        return iter(self.margins)

    def __len__(self) -> int:
        return len(self.margins)

    def __getitem__(self, name: str) -> Margin:
        for m in self.margins:
            if m.name == name:
                return m
        raise KeyError(f"no margin {name!r}; margins are {self.names}")

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.margins]

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable named by a margin, in first-seen order."""
        out: list[str] = []
        for m in self.margins:
            for v in m.variables:
                if v not in out:
                    out.append(v)
        return tuple(out)

    @property
    def categorical_variables(self) -> tuple[str, ...]:
        out: list[str] = []
        for m in self.margins:
            if not m.numeric:
                out.extend(v for v in m.variables if v not in out)
        return tuple(out)

    @property
    def numeric_variables(self) -> tuple[str, ...]:
        return tuple(m.variables[0] for m in self.margins if m.numeric)

    @property
    def has_se(self) -> bool:
        return any(m.se is not None for m in self.margins)

    def levels(self) -> dict[str, tuple[str, ...]]:
        """Level text per categorical variable, in first-seen order across margins."""
        out: dict[str, list[str]] = {}
        for m in self.margins:
            if m.numeric:
                continue
            for j, v in enumerate(m.variables):
                lst = out.setdefault(v, [])
                for lv in m.levels:
                    if lv[j] not in lst:
                        lst.append(lv[j])
        return {k: tuple(v) for k, v in out.items()}

    # -- transforms -------------------------------------------------------------------
    def resolve(self, population: float | None = None) -> Targets:
        """All margins as totals: shares times ``population`` (else ``self.population``).

        Raises :class:`TargetError` when shares are present and no population total is known.
        """
        pop = population if population is not None else self.population
        if any(m.scale == "share" for m in self.margins):
            if pop is None:
                raise TargetError(
                    "targets are shares but no population total is known: pass population=N "
                    "(--population on the CLI) or resolve against the sample's total weight"
                )
        # pop is set whenever a share margin exists (raised above otherwise)
        margins = tuple(m.as_totals(pop) if m.scale == "share" and pop is not None else m
                        for m in self.margins)
        return replace(self, margins=margins, population=pop)

    def normalized(self) -> Targets:
        """Rescale the shares of every categorical share margin to sum to exactly 1."""
        margins = tuple(
            replace(m, values=m.values / m.total, se=None if m.se is None else m.se / m.total)
            if m.scale == "share" and not m.numeric
            else m
            for m in self.margins
        )
        return replace(self, margins=margins)

    def select(self, names: Iterable[str]) -> Targets:
        """A Targets with only the named margins."""
        names = list(names)
        return replace(self, margins=tuple(self[n] for n in names))

    def __add__(self, other: Targets) -> Targets:
        pop = self.population if self.population is not None else other.population
        prov = {**other.provenance, **self.provenance}
        return Targets(self.margins + other.margins, pop, prov, self.share_tol, self.total_rtol)

    # -- io ---------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        population: float | None = None,
        *,
        source: str | None = None,
        share_tol: float = 1e-6,
    ) -> Targets:
        """Read the long format (``variable, level, total|share[, se, universe, source]``)."""
        cols = set(df.columns)
        if "variable" not in cols or "level" not in cols:
            raise TargetError(
                f"targets need columns 'variable' and 'level' plus 'total' or 'share'; got {sorted(cols)}"
            )
        if ("total" in cols) == ("share" in cols):
            raise TargetError("targets need exactly one of the columns 'total' or 'share'")
        vcol: Scale = "total" if "total" in cols else "share"
        if df["variable"].isna().any():  # groupby would drop these rows silently
            raise TargetError("a targets row has an empty 'variable'")
        margins = [_margin_of(str(name).strip(), grp, vcol, cols, source)
                   for name, grp in df.groupby("variable", sort=False)]
        prov = {"source": source} if source else {}
        return cls(tuple(margins), population, prov, share_tol=share_tol)

    @classmethod
    def read(cls, path: str | Path, population: float | None = None, **kw) -> Targets:
        """Read a targets file (CSV or Parquet, by extension).

        A CSV is read as every table of calib (:func:`calib.core.util.read_csv_text`: text,
        only empty cells missing, so a level ``"01"`` or ``"NA"`` is kept as written);
        :meth:`from_frame` converts ``total``, ``share`` and ``se``. The core cannot import
        :func:`calib.data.tables.read_table`; both use that one CSV rule.
        """
        path = Path(path)
        if not path.is_file():
            raise TargetError(f"targets file {str(path)!r} does not exist or is not a file")
        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                df = pd.read_parquet(path)
            else:
                df = read_csv_text(path)
        except CalibError:
            raise
        except (ValueError, OSError, pd.errors.ParserError) as err:  # empty, truncated ...
            raise TargetError(f"targets file {str(path)!r} could not be read ({err}); give "
                              "a CSV or Parquet file with columns variable,level,total|share"
                              ) from None
        if df.empty:
            raise TargetError(f"targets file {str(path)!r} has no rows; give one row per "
                              "variable and level (columns variable,level,total|share)")
        kw.setdefault("source", str(path))
        return cls.from_frame(df, population, **kw)

    def to_frame(self) -> pd.DataFrame:
        """The long format; mixed scales are written as totals (needs a population)."""
        scales = {m.scale for m in self.margins if not m.numeric}
        t = self if len(scales) <= 1 else self.resolve()
        frames = [m.to_frame() for m in t.margins]
        if len(scales) == 1 and "share" in scales:
            frames = [
                f.rename(columns={"total": "share"}) if "total" in f.columns else f for f in frames
            ]
        return pd.concat(frames, ignore_index=True)

    def write(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the long format (CSV or Parquet by extension); never overwrites unless asked."""
        path = check_output(path, overwrite, "targets file")
        df = self.to_frame()
        if path.suffix.lower() in (".parquet", ".pq"):
            df.to_parquet(path, index=False)
        else:
            df.to_csv(path, index=False)
        return path

    def warn_mixed_universes(self) -> None:
        """Warn when margins come from different universes (e.g. ACS 18+ vs 25+)."""
        unis = {m.universe for m in self.margins if m.universe}
        if len(unis) > 1:
            warnings.warn(
                "targets mix universes: "
                + "; ".join(f"{m.name}: {m.universe}" for m in self.margins if m.universe)
                + ". Shares are applied to one population total as if they held for it.",
                UserWarning,
                stacklevel=2,
            )


def _first(grp: pd.DataFrame, col: str) -> str | None:
    if col not in grp.columns:
        return None
    vals = grp[col].dropna().astype(str)
    vals = vals[vals.str.strip() != ""]
    return None if vals.empty else str(vals.iloc[0])


def _margin_of(name: str, grp: pd.DataFrame, vcol: Scale, cols: set, source: str | None) -> Margin:
    """One margin from the long-format rows of one ``variable`` (see :meth:`Targets.from_frame`)."""
    if not name:
        raise TargetError("a targets row has an empty 'variable'")
    variables = tuple(p.strip() for p in name.split(JOINT_SEP))
    lv_raw = grp["level"]
    empty = lv_raw.isna() | (lv_raw.astype(str).str.strip() == "")
    vals = pd.to_numeric(grp[vcol], errors="coerce").to_numpy(dtype=float)
    if np.isnan(vals).any():
        raise TargetError(f"margin {name!r}: non-numeric or missing {vcol} values")
    se = None
    if "se" in cols:
        se_s = pd.to_numeric(grp["se"], errors="coerce")
        se = None if se_s.isna().all() else se_s.fillna(0.0).to_numpy(dtype=float)
    uni = _first(grp, "universe")
    src = _first(grp, "source") or source
    if empty.all():
        if len(variables) != 1 or len(grp) != 1:
            raise TargetError(
                f"numeric auxiliary {name!r}: one row with an empty level, one variable"
            )
        return Margin(variables, (), vals, "total", se, numeric=True, universe=uni, source=src)
    if empty.any():
        raise TargetError(
            f"margin {name!r}: {int(empty.sum())} rows with an empty level; an empty level "
            "is only for a numeric auxiliary (one row)"
        )
    levels = []
    for raw in lv_raw:
        parts = tuple(p.strip() for p in format_level(raw).split(JOINT_SEP))
        if len(parts) != len(variables):
            raise TargetError(
                f"margin {name!r}: level {raw!r} has {len(parts)} parts separated by "
                f"'{JOINT_SEP}', expected {len(variables)}"
            )
        levels.append(parts)
    return Margin(variables, tuple(levels), vals, vcol, se, False, uni, src)


def _aggregate(m: Margin, variables: Sequence[str]) -> dict[tuple[str, ...], float]:
    pos = [m.variables.index(v) for v in variables]
    out: dict[tuple[str, ...], float] = {}
    for lv, val in zip(m.levels, m.values, strict=True):
        key = tuple(lv[p] for p in pos)
        out[key] = out.get(key, 0.0) + float(val)
    return out


def margin(
    variable: str | Sequence[str],
    values: Mapping[str, float] | Mapping[tuple[str, ...], float],
    *,
    scale: Scale = "total",
    se: Mapping | None = None,
    universe: str | None = None,
    source: str | None = None,
) -> Margin:
    """Build a margin from a mapping ``level -> value`` (joint levels as tuples or ``a:b``).

    >>> margin("sex", {"F": 52, "M": 48}).total
    100.0
    """
    variables = (variable,) if isinstance(variable, str) else tuple(variable)
    levels, vals, ses = [], [], []
    for k, v in values.items():
        lv = tuple(k) if isinstance(k, tuple) else tuple(format_level(k).split(JOINT_SEP))
        levels.append(tuple(format_level(x) for x in lv))
        vals.append(float(v))
        if se is not None:
            ses.append(float(se[k]))
    return Margin(
        variables, tuple(levels), np.array(vals), scale, np.array(ses) if se else None, False,
        universe, source,
    )


__all__ = ["Margin", "Targets", "margin", "JOINT_SEP"]
