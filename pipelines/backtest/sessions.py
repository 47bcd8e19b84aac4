"""When a backtest may trade: the exchange calendar, the pipeline's trading window and
end-of-day rules, and its Time Trigger — the rules a live run follows, read from the same code.

- **Exchange calendar.** Only bars inside XNYS sessions are traded (`exchange_session_bars`):
  weekends, holidays and pre-/post-market bars are dropped before the replay, as the live
  market data drops them (`trading.marketdata.frames`). An entry signalled on a session's last
  bar fills at the next session's open, as the simulation executor queues it for the open.
- **The moment of a bar.** A live run acts on a bar once it has closed, so an intraday bar is
  judged at its close (`frames.bar_closes`, early closes honoured). A daily bar stands for its
  whole session: a window or trigger that overlaps the session counts.
- **Trading window** (`ScheduleConfig`): a new position opens only when a run could start then —
  inside a window on an active day and not in its last 5 minutes (`start_blocker`); positions
  already open keep their brackets and exit conditions outside the window, as the position
  monitor keeps watching them.
- **End of day**: with `flatten_positions_at_end`, a position still open at the window's end is
  closed at the close of the bar during which the window ends (`end_of_day`); without a window,
  at the close of each session's last bar.
- **News Trigger** (`pipelines.backtest.news`): met while enough matching headlines from the
  project's news provider lie in its look-back before the bar's moment.
- **Time Trigger** (`TimeTrigger.windows_between`): met while a bar's moment lies in one of its
  windows. With a Technical or Price Trigger beside it both must hold; alone it fires once per
  window, on the first bar whose moment reaches the scheduled time.

Everything is computed once over the whole history as boolean arrays; the engine's loop only
reads them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from pipelines.schedules import NO_RESTART_BEFORE_END, ScheduleConfig
from trading.calendar import session_table
from trading.marketdata.frames import (
    INTRADAY_MINUTES,
    bar_closes,
    daily_stamp_days,
    session_of_day,
    session_of_intraday,
)

NEAR_END_SECONDS = int(NO_RESTART_BEFORE_END.total_seconds())


def bar_sessions(open_seconds: np.ndarray, timeframe: str) -> np.ndarray:
    """Each bar's XNYS session (index into the session table), -1 outside every session."""
    if timeframe == "1d":
        return session_of_day(daily_stamp_days(np.asarray(open_seconds, dtype=np.int64)))
    return session_of_intraday(open_seconds, INTRADAY_MINUTES[timeframe] * 60)


def exchange_session_bars(history):
    """The history without the bars no live run could trade on (outside XNYS sessions)."""
    keep = bar_sessions(history.open_seconds, history.timeframe) >= 0
    if keep.all():
        return history
    return type(history)(
        history.symbol,
        history.timeframe,
        *(
            getattr(history, name)[keep]
            for name in ("open_seconds", "open", "high", "low", "close", "volume")
        ),
    )


def _moments(history) -> tuple[np.ndarray, np.ndarray]:
    """(from, until) per bar, epoch seconds: the span in which a run acts on the bar. An
    intraday bar's is the second its close falls in; a daily bar's its whole session."""
    seconds = np.asarray(history.open_seconds, dtype=np.int64)
    if history.timeframe == "1d":
        table = session_table()
        sessions = np.maximum(bar_sessions(seconds, "1d"), 0)
        return table.opens[sessions], table.closes[sessions]
    closes = bar_closes(seconds, history.timeframe).astype(np.int64)
    return closes, closes + 1


def decision_moments(history) -> np.ndarray:
    """The second at which a run acts on each bar (an intraday bar's close; for a daily bar,
    the last second of its session)."""
    return _moments(history)[1] - 1


def _days(history) -> tuple[date, date]:
    """Local days to ask for windows: one either side of the history covers any time zone."""
    first = datetime.fromtimestamp(int(history.open_seconds[0]), UTC).date()
    last = datetime.fromtimestamp(int(history.open_seconds[-1]), UTC).date()
    return first - timedelta(days=1), last + timedelta(days=1)


def _as_arrays(windows) -> tuple[np.ndarray, np.ndarray]:
    windows = list(windows)
    starts = np.array([int(start.timestamp()) for start, _ in windows], dtype=np.int64)
    ends = np.array([int(end.timestamp()) for _, end in windows], dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


def _inside(starts, ends, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """(inside, window) per bar: whether [lo, hi) overlaps a window, and the last window that
    starts before hi (its index; -1 when none)."""
    if len(starts) == 0:
        return np.zeros(len(lo), dtype=bool), np.full(len(lo), -1)
    reach = np.maximum.accumulate(ends)  # windows may overlap (cron windows)
    index = np.searchsorted(starts, hi, side="left") - 1
    inside = (index >= 0) & (reach[np.maximum(index, 0)] > lo)
    return inside, index


def _schedule(plan) -> ScheduleConfig | None:
    return ScheduleConfig.model_validate(plan.schedule) if plan.schedule else None


def entry_gate(history, plan, *, llm=None) -> np.ndarray | None:
    """True on the bars whose signal may open a position (None: every bar may)."""
    n = len(history)
    if n == 0:
        return None
    gate = None
    schedule = _schedule(plan)
    timed = schedule or plan.time_trigger or plan.news_trigger
    lo, hi = _moments(history) if timed else (None, None)
    if schedule is not None and schedule.has_window:
        starts, ends = _as_arrays(schedule.windows_between(*_days(history)))
        inside, index = _inside(starts, ends, lo, hi)
        if history.timeframe != "1d":
            # The last minutes of a window start no new cycle: it could not finish in time.
            inside &= ends[np.maximum(index, 0)] - lo >= NEAR_END_SECONDS
        gate = inside
    elif schedule is not None and len(schedule.active_days) < 7:
        weekdays = _local_weekdays(lo, schedule.zone)
        gate = np.isin(weekdays, schedule.active_days)
    if plan.time_trigger is not None:
        # Beside a condition trigger or a custom strategy the time trigger is met through its
        # window (each cycle asks them); alone it starts one run per window.
        met = time_trigger_bars(
            history,
            plan.time_trigger,
            moments=(lo, hi),
            first_only=not plan.entry_conditions and not plan.custom_strategy,
        )
        gate = met if gate is None else gate & met
    if plan.news_trigger is not None:
        from pipelines.backtest.news import news_trigger_bars

        met = news_trigger_bars(history, plan.news_trigger, moments=hi - 1, llm=llm)
        if not plan.entry_conditions and not plan.custom_strategy:
            met = met & ~np.r_[False, met[:-1]]  # alone: a run starts when the news arrives
        gate = met if gate is None else gate & met
    return gate


def _local_weekdays(seconds: np.ndarray, zone) -> np.ndarray:
    import pandas as pd

    stamps = pd.DatetimeIndex(seconds.astype("datetime64[s]")).tz_localize(UTC)
    return stamps.tz_convert(zone).day_of_week.to_numpy()


def time_trigger_bars(history, config: dict, *, moments=None, first_only: bool = False):
    """The bars on which the Time Trigger is met (`first_only`: the first bar of each of its
    windows — when the trigger alone starts the run)."""
    from agents.builtin.time_trigger import TimeTrigger

    lo, hi = moments if moments is not None else _moments(history)
    windows = TimeTrigger("time_trigger", config).windows_between(*_days(history))
    starts, ends = _as_arrays((w.start, w.end) for w in windows)
    if not first_only:
        return _inside(starts, ends, lo, hi)[0]
    fired = np.zeros(len(lo), dtype=bool)
    first = np.searchsorted(hi, starts, side="right")
    valid = first < len(lo)
    first, ends = first[valid], ends[valid]
    fired[first[lo[first] < ends]] = True
    return fired


def flatten_bars(history, plan) -> np.ndarray:
    """True on the bars at whose close an open position is flattened (end of day)."""
    n = len(history)
    flatten = np.zeros(n, dtype=bool)
    if not plan.flatten_end_of_day or n == 0:
        return flatten
    schedule = _schedule(plan)
    if schedule is None or not schedule.has_window:
        sessions = bar_sessions(history.open_seconds, history.timeframe)
        return np.r_[sessions[1:] != sessions[:-1], True]
    starts, ends = _as_arrays(schedule.windows_between(*_days(history)))
    _, until = _moments(history)
    if history.timeframe != "1d":
        until = until - 1  # the bar's close
    last = np.searchsorted(history.open_seconds, ends, side="left") - 1
    valid = last >= 0
    last, starts = last[valid], starts[valid]
    # Only a bar that lies in that window (a window with no bars flattens nothing).
    flatten[last[until[last] > starts]] = True
    return flatten
