"""Tile-grid coordinates of the 50 states and DC (the NPR layout: one equal square per state).

A tile grid trades geography for legibility: every state gets the same area, so small
states (DC, RI, DE) are as readable as large ones, which suits a map of shares.
``TILES[state] = (row, col)`` with row 0 at the top; the grid is 8 rows by 11 columns.

Examples
--------
>>> TILES["WA"], TILES["FL"]
((2, 0), (7, 8))
>>> len(TILES), GRID_ROWS, GRID_COLS
(51, 8, 11)
"""

from __future__ import annotations

_ROWS: tuple[tuple[tuple[int, str], ...], ...] = (
    ((0, "AK"), (10, "ME")),
    ((9, "VT"), (10, "NH")),
    ((0, "WA"), (1, "ID"), (2, "MT"), (3, "ND"), (4, "MN"), (5, "IL"), (6, "WI"), (7, "MI"),
     (8, "NY"), (9, "RI"), (10, "MA")),
    ((0, "OR"), (1, "NV"), (2, "WY"), (3, "SD"), (4, "IA"), (5, "IN"), (6, "OH"), (7, "PA"),
     (8, "NJ"), (9, "CT")),
    ((0, "CA"), (1, "UT"), (2, "CO"), (3, "NE"), (4, "MO"), (5, "KY"), (6, "WV"), (7, "VA"),
     (8, "MD"), (9, "DE")),
    ((1, "AZ"), (2, "NM"), (3, "KS"), (4, "AR"), (5, "TN"), (6, "NC"), (7, "SC"), (8, "DC")),
    ((3, "OK"), (4, "LA"), (5, "MS"), (6, "AL"), (7, "GA")),
    ((0, "HI"), (3, "TX"), (8, "FL")),
)  # fmt: skip

#: state (USPS) -> (row, col) in the tile grid.
TILES: dict[str, tuple[int, int]] = {
    state: (row, col) for row, tiles in enumerate(_ROWS) for col, state in tiles
}
GRID_ROWS: int = len(_ROWS)
GRID_COLS: int = 1 + max(col for col, _ in (t for tiles in _ROWS for t in tiles))

__all__ = ["TILES", "GRID_ROWS", "GRID_COLS"]
