"""The monitor's vectorised screen: for all positions in one symbol at once, the first 1-minute
bar that may touch a stop or a target (numpy over bars × positions).

Most positions touch nothing in a sweep; the screen proves it for all of them in a few array
operations, and the exact rules (`simulation_rules.bracket_bar`, in Decimal) then judge only the
bars from the first touch on. The screen never misses a touch: a bar that reaches a level in
Decimal reaches it in float as well (a bar's float value is the double its Decimal text came
from, and rounding to double keeps order), and a small tolerance on top leaves a near miss to the
exact rules. A bar before the first touch leaves a bracket exactly as it was, so starting the
exact walk there gives the same exits as walking every bar.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# A level this close (relative) counts as possibly touched; the exact rules decide.
TOLERANCE = 1e-9


def _level(value) -> float:
    return np.nan if value is None else float(value)


def _minute_ns(moment) -> int:
    """The start of the minute holding `moment`, in nanoseconds since the epoch."""
    return int(moment.timestamp() // 60) * 60_000_000_000


def first_touches(bars: pd.DataFrame, positions: Sequence) -> np.ndarray:
    """Per position, the index in `bars` of the first bar at or after the one the position was
    last judged in that may touch its stop or a target not yet hit; -1 when none does.

    `positions` carry side, stop_loss, target_1, target_2, target_1_hit and the time they were
    last judged (`price_updated_at`, else `opened_at`)."""
    count = len(positions)
    if bars.empty or not count:
        return np.full(count, -1, dtype=np.int64)
    bar_opens = bars.index.as_unit("ns").asi8  # nanoseconds since the epoch, UTC
    values = bars.to_numpy(dtype=np.float64)  # one array for all columns: cheaper than two
    high = values[:, bars.columns.get_loc("high")][:, None]
    low = values[:, bars.columns.get_loc("low")][:, None]
    # From the bar that was still forming at the last look (or at the entry) onwards.
    since = np.array(
        [_minute_ns(p.price_updated_at or p.opened_at) for p in positions], dtype=np.int64
    )
    long = np.array([p.side == "long" for p in positions])
    stop = np.array([_level(p.stop_loss) for p in positions])
    target_1 = np.array([np.nan if p.target_1_hit else _level(p.target_1) for p in positions])
    target_2 = np.array([_level(p.target_2) for p in positions])
    with np.errstate(invalid="ignore"):
        # Longs: the stop below, the nearer target above; shorts the other way round.
        nearest_target = np.where(long, np.fmin(target_1, target_2), np.fmax(target_1, target_2))[
            None, :
        ]
        stop_row = stop[None, :]
        slack_stop = np.abs(stop_row) * TOLERANCE
        slack_target = np.abs(nearest_target) * TOLERANCE
        long_touch = (low <= stop_row + slack_stop) | (high >= nearest_target - slack_target)
        short_touch = (high >= stop_row - slack_stop) | (low <= nearest_target + slack_target)
    touched = np.where(long[None, :], long_touch, short_touch)
    touched &= bar_opens[:, None] >= since[None, :]
    first = touched.argmax(axis=0)
    return np.where(touched.any(axis=0), first, -1)
