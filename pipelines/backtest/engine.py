"""The backtest engine: a plan replayed over one symbol's bars with SIMULATION's rules.

Speed by design: every indicator and condition is computed once over the whole history (TA-Lib
on arrays, `Condition.mask`); the loop jumps from one bar where something can happen to the next
(an entry signal while flat; a stop or target touch, an exit signal or the end of the day while
in a position), found with numpy searches rather than visiting bars; nothing touches the
database. Fills and bracket exits come from `trading.simulation_rules`, the same rules the live
simulation executor and the position monitor use.

Arithmetic is float64 inside the loop (like the indicators); results are turned into Decimal
cents where they are stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.backtest import sessions
from pipelines.backtest.conditions import _condition_masks
from pipelines.backtest.levels import _levels, _size, _strategy_levels
from pipelines.backtest.plan import BacktestPlan, PlanError
from pipelines.backtest.reasoning import entry_reasoning, trigger_text
from trading import simulation_rules
from trading.indicators import compute_indicators

NEXT_OPEN = "next_open"
AT_CLOSE = "close"
CONDITION_EXIT = "exit_condition"
END_OF_DAY = "end_of_day"
OPEN_AT_END = "open"


@dataclass(frozen=True)
class Costs:
    initial_cash: float = 10_000.0
    commission_pct: float = 0.0  # % of notional, per fill
    commission_per_share: float = 0.0
    slippage_pct: float = 0.0
    fill_at: str = NEXT_OPEN


@dataclass
class History:
    """One symbol × timeframe: bar open times (epoch seconds, UTC) and OHLCV arrays."""

    symbol: str
    timeframe: str
    open_seconds: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    # What backtests of this history computed and can share (conditions._memo); never compared.
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.open_seconds)

    def frame(self) -> pd.DataFrame:
        if "frame" in self.memo:
            return self.memo["frame"]
        index = pd.DatetimeIndex(
            (self.open_seconds.astype(np.int64) * 1_000_000_000).view("M8[ns]"), tz="UTC"
        )
        self.memo["frame"] = pd.DataFrame(
            {
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            index=index,
        )
        return self.memo["frame"]

    def between(self, start: int | None, end: int | None) -> History:
        """The bars opening in [start, end) (epoch seconds; None: unbounded)."""
        lo = 0 if start is None else int(np.searchsorted(self.open_seconds, start, "left"))
        hi = len(self) if end is None else int(np.searchsorted(self.open_seconds, end, "left"))
        return History(
            self.symbol,
            self.timeframe,
            *(a[lo:hi] for a in (self.open_seconds, self.open, self.high, self.low, self.close)),
            self.volume[lo:hi],
        )


@dataclass
class ClosedTrade:
    side: str
    quantity: int
    entry_bar: int
    entry_seconds: int
    entry_price: float
    stop_loss: float | None
    target_1: float | None
    target_2: float | None
    exit_bar: int | None = None
    exit_seconds: int | None = None
    exit_price: float | None = None  # average over the exits
    commission: float = 0.0
    net_pnl: float = 0.0
    close_reason: str = ""
    partial_exit_quantity: int = 0
    partial_exit_price: float | None = None
    exits: list[tuple[int, int, float]] = field(default_factory=list)  # (bar, qty, price)
    reasoning: str = ""  # why it was entered (pipelines.backtest.reasoning)

    @property
    def is_open(self) -> bool:
        return self.exit_bar is None


@dataclass
class BacktestResult:
    trades: list[ClosedTrade]
    equity: np.ndarray
    final_equity: float
    bars: int
    cancelled: bool = False

    @property
    def closed_trades(self) -> list[ClosedTrade]:
        return [t for t in self.trades if not t.is_open]

    @property
    def open_trades(self) -> list[ClosedTrade]:
        return [t for t in self.trades if t.is_open]


# --- the replay ---------------------------------------------------------------------------------


def _next_index(indices: np.ndarray, start: int) -> int | None:
    k = int(indices.searchsorted(start))  # the method: np.searchsorted's wrapper costs more
    return int(indices[k]) if k < len(indices) else None


def run_backtest(
    history: History,
    plan: BacktestPlan,
    costs: Costs,
    *,
    on_progress: Callable[[int, int], bool] | None = None,
    signals=None,
    llm=None,
) -> BacktestResult:
    """Replay `plan` over `history`. `on_progress(bars_done, bars_total)` is called now and
    then; when it returns False the run stops (cancelled) and reports what it has. `signals`
    (pipelines.backtest.custom.StrategySignals) are a custom strategy's answers per bar: they
    pick the side and set the levels. `llm` is the budgeted client an LLM engine asks."""
    n = len(history)
    if plan.custom_strategy and signals is None:
        raise PlanError("The custom strategy's signals are missing.", field=plan.custom_strategy)
    # A Bias node picks each trade's side on the bars the trigger fired (pipelines.backtest.bias).
    bias = _bias_replay(history, plan, llm) if plan.bias is not None else None
    replay = _Replay(history, plan, costs, _moments(history, plan, signals, bias, llm), bias)
    replay.strategy = signals
    cancelled = replay.run(on_progress)
    equity = _equity_curve(history, replay.trades, replay.cash_delta, costs.initial_cash)
    if on_progress is not None and not cancelled:
        on_progress(n, n)
    return BacktestResult(
        trades=replay.trades,
        equity=equity,
        final_equity=float(equity[-1]) if n else float(costs.initial_cash),
        bars=n,
        cancelled=cancelled,
    )


@dataclass
class _Moments:
    """Where something can happen, per side: entry bars, exit signals and static exits (an exit
    signal or the day's end), the day's ends, and the ATR when stops use it."""

    entries_of: dict
    entry_keys: tuple
    exit_of: dict
    static_exits_of: dict
    day_end: np.ndarray
    atr: np.ndarray | None


def _moments(history: History, plan: BacktestPlan, signals, bias, llm) -> _Moments:
    """Every condition over the whole history at once, turned into the bars the replay visits."""
    n = len(history)
    reversing = plan.side == "both" and signals is None and bias is None
    entry_signal = (
        _condition_masks(history, plan.entry_conditions, plan.entry_logic)
        if plan.entry_conditions
        else np.ones(n, dtype=bool)  # a Time Trigger alone: its gate says when
    )
    exit_signal = _condition_masks(history, plan.exit_conditions, plan.exit_logic)
    # Trading window, active days and Time Trigger gate new positions; exits are never gated.
    gate = sessions.entry_gate(history, plan, llm=llm)
    day_end = sessions.flatten_bars(history, plan)
    # Long and short: the entry conditions open a long, the exit conditions a short, and each
    # side's exit is the other side's entry (a reversal). Otherwise one side, exits by the exit
    # conditions.
    sides = ("long", "short") if plan.side == "both" else (plan.side,)
    long_entries = entry_signal if plan.side != "short" else np.zeros(n, bool)
    short_entries = exit_signal if reversing else entry_signal
    if gate is not None:
        long_entries, short_entries = long_entries & gate, short_entries & gate
    if signals is not None:  # the strategy's BUY opens a long, its SELL a short
        long_entries, short_entries = (
            long_entries & (signals.side > 0),
            short_entries & (signals.side < 0),
        )
    entries_of = {"long": np.flatnonzero(long_entries), "short": np.flatnonzero(short_entries)}
    entry_keys = sides
    if bias is not None:  # one list of trigger bars; the bias says which side, if any
        sides, entry_keys = ("long", "short"), ("bias",)
        entries_of = {"bias": np.flatnonzero(entry_signal if gate is None else entry_signal & gate)}
    exit_of = {"long": exit_signal, "short": entry_signal if reversing else exit_signal}
    atr = None
    if plan.stop_method == "atr":
        atr = compute_indicators(history.frame(), ["ATR"], timeframe=history.timeframe)[
            "atr_14"
        ].to_numpy()
    return _Moments(
        entries_of=entries_of,
        entry_keys=entry_keys,
        exit_of=exit_of,
        static_exits_of={side: np.flatnonzero(exit_of[side] | day_end) for side in sides},
        day_end=day_end,
        atr=atr,
    )


class _Replay:
    """The replay's state: cash, the trades, the open position and its bracket. It jumps from
    one bar where something can happen to the next."""

    def __init__(self, history: History, plan: BacktestPlan, costs: Costs, moments, bias):
        self.history, self.plan, self.costs, self.moments, self.bias = (
            history,
            plan,
            costs,
            moments,
            bias,
        )
        self.strategy = None  # a custom strategy's signals
        self.trigger_text = trigger_text(plan)
        self.n = len(history)
        self.next_open = costs.fill_at == NEXT_OPEN
        self.cash = float(costs.initial_cash)
        self.trades: list[ClosedTrade] = []
        self.cash_delta = np.zeros(self.n + 1)
        self.trade: ClosedTrade | None = None
        self.bracket: simulation_rules.Bracket | None = None
        self.sign = 1
        self.exit_side = "sell"
        self.exit_signal = None
        self.static_exits = None

    def run(self, on_progress) -> bool:
        """Replay to the end (or the cancel); True when cancelled."""
        n = self.n
        i = 0
        step = max(1, n // 100)
        next_report = 0
        last_report = 0.0
        while i is not None and i < n:
            if on_progress is not None and i >= next_report:
                next_report = i + step
                now = time.monotonic()
                if now - last_report > 0.2:
                    last_report = now
                    if on_progress(i, n) is False:
                        return True
            i = self._enter(i) if self.trade is None else self._hold(i)
        return False

    def commission(self, quantity: int, price: float) -> float:
        return simulation_rules.commission_for(
            quantity,
            price,
            per_share=self.costs.commission_per_share,
            pct_of_notional=self.costs.commission_pct,
        )

    def slipped(self, reference, side: str) -> float:
        return simulation_rules.slipped_price(
            float(reference), side=side, slippage_pct=self.costs.slippage_pct
        )

    def _enter(self, i: int) -> int | None:
        """Flat: the next entry signal opens a position. The next bar to look at, or None when
        no entry is left."""
        moments = self.moments
        candidates = [
            (bar, side)
            for side in moments.entry_keys
            if (bar := _next_index(moments.entries_of[side], i)) is not None
        ]
        if not candidates:
            return None
        signal_bar, side = min(candidates)
        fill_bar = signal_bar + 1 if self.next_open else signal_bar
        if side == "bias":
            if fill_bar >= self.n:
                return None  # no bar left to fill on: the bias is not asked
            side = self.bias.side_at(signal_bar)
            if side is None:
                return signal_bar + 1
        self.sign = 1 if side == "long" else -1
        entry_side, self.exit_side = ("buy", "sell") if self.sign > 0 else ("sell", "buy")
        self.exit_signal = moments.exit_of[side]
        self.static_exits = moments.static_exits_of[side]
        if fill_bar >= self.n:
            return None
        reference = (
            self.history.open[fill_bar] if self.next_open else self.history.close[signal_bar]
        )
        price = self.slipped(reference, entry_side)
        levels = self._levels(signal_bar)
        if levels is False:
            return signal_bar + 1
        stop, target_1, target_2 = levels or (None, None, None)
        quantity = _size(self.plan, self.costs, self.cash, price, stop)
        if quantity < 1:
            return signal_bar + 1
        self._open(side, quantity, fill_bar, price, (stop, target_1, target_2))
        self.trade.reasoning = entry_reasoning(self, signal_bar, side, levels)
        # Entered at an open: that bar's range still lies ahead. At a close: the next bar's.
        return fill_bar if self.next_open else fill_bar + 1

    def _levels(self, signal_bar: int):
        levels = self.bias.levels_at(signal_bar) if self.bias is not None else None
        if levels is None:
            levels = (
                _levels(self.plan, self.history, self.moments.atr, signal_bar, self.sign)
                if self.strategy is None
                else _strategy_levels(self.plan, self.strategy, self.history, signal_bar)
            )
        return levels

    def _open(self, side: str, quantity: int, fill_bar: int, price: float, levels) -> None:
        stop, target_1, target_2 = levels
        fee = self.commission(quantity, price)
        self.cash -= fee
        self.cash_delta[fill_bar] -= fee
        self.trade = ClosedTrade(
            side=side,
            quantity=quantity,
            entry_bar=fill_bar,
            entry_seconds=int(self.history.open_seconds[fill_bar]),
            entry_price=price,
            stop_loss=stop,
            target_1=target_1,
            target_2=target_2,
            commission=fee,
            net_pnl=-fee,
        )
        self.trades.append(self.trade)
        self.bracket = simulation_rules.Bracket(
            side=side,
            quantity=quantity,
            entry_price=price,
            stop_loss=stop,
            target_1=target_1,
            target_2=target_2,
            original_quantity=quantity,
            partial_exit_pct=self.plan.partial_exit_pct,
            move_stop_to_breakeven=self.plan.move_stop_to_breakeven,
            slippage_pct=self.costs.slippage_pct,
        )

    def _hold(self, i: int) -> int | None:
        """In a position: the next bar where an exit signal, the day's end or a level touch.
        The next bar to look at, or None when the position stays open to the end."""
        history, bracket, n = self.history, self.bracket, self.n
        limit = _next_index(self.static_exits, i)
        horizon = n if limit is None else limit + 1
        touch = (
            _first_touch(bracket, history.high, history.low, i, horizon)
            if _has_levels(bracket)
            else None
        )
        j = touch if touch is not None else limit
        if j is None:
            return None
        if touch is not None:
            outcome = simulation_rules.bracket_bar(
                bracket,
                open_=float(history.open[j]),
                high=float(history.high[j]),
                low=float(history.low[j]),
            )
            if outcome.target_1_hit:
                bracket.target_1_hit = True
            for fill in outcome.exits:
                self._close(fill.quantity, j, float(fill.price), fill.reason)
            if self.trade is None:
                return j  # flat again: a signal on this bar's close may enter
            if outcome.new_stop is not None:
                bracket.stop_loss = outcome.new_stop
        if self.exit_signal[j]:
            if not self.next_open:
                self._close(
                    bracket.quantity,
                    j,
                    self.slipped(history.close[j], self.exit_side),
                    CONDITION_EXIT,
                )
            elif j + 1 >= n:
                return None  # the exit would fill after the data ends: still open
            else:
                price = self.slipped(history.open[j + 1], self.exit_side)
                self._close(bracket.quantity, j + 1, price, CONDITION_EXIT)
            return j
        if self.moments.day_end[j]:
            self._close(
                bracket.quantity, j, self.slipped(history.close[j], self.exit_side), END_OF_DAY
            )
        return j + 1

    def _close(self, quantity: int, bar: int, price: float, reason: str) -> None:
        trade, bracket = self.trade, self.bracket
        fee = self.commission(quantity, price)
        pnl = self.sign * quantity * (price - trade.entry_price) - fee
        self.cash += pnl
        self.cash_delta[bar] += pnl
        trade.commission += fee
        trade.net_pnl += pnl
        trade.exits.append((bar, quantity, price))
        bracket.quantity -= quantity
        if reason == simulation_rules.TARGET_1_HIT and bracket.quantity > 0:
            trade.partial_exit_quantity, trade.partial_exit_price = quantity, price
        if bracket.quantity <= 0:
            trade.exit_bar = bar
            trade.exit_seconds = int(self.history.open_seconds[bar])
            trade.exit_price = sum(q * p for _, q, p in trade.exits) / trade.quantity
            trade.close_reason = reason
            self.trade, self.bracket = None, None


def _bias_replay(history: History, plan: BacktestPlan, llm):
    from pipelines.backtest.bias import BiasReplay

    return BiasReplay(history, plan, llm=llm)


def _has_levels(bracket) -> bool:
    return any(x is not None for x in (bracket.stop_loss, bracket.target_1, bracket.target_2))


def _first_touch(bracket, high, low, start: int, end: int) -> int | None:
    """The first bar in [start, end) whose range reaches the stop or a target still waiting."""
    long = bracket.long
    inf = np.inf
    stop = bracket.stop_loss if bracket.stop_loss is not None else (-inf if long else inf)
    targets = [
        t
        for t, waiting in ((bracket.target_1, not bracket.target_1_hit), (bracket.target_2, True))
        if t is not None and waiting
    ]
    target = (min(targets) if long else max(targets)) if targets else (inf if long else -inf)
    width = 64
    while start < end:
        stop_at = min(end, start + width)
        if long:
            hit = (low[start:stop_at] <= stop) | (high[start:stop_at] >= target)
        else:
            hit = (high[start:stop_at] >= stop) | (low[start:stop_at] <= target)
        k = int(hit.argmax())
        if hit[k]:
            return start + k
        start, width = stop_at, width * 4
    return None


def _equity_curve(history: History, trades, cash_delta: np.ndarray, initial: float) -> np.ndarray:
    """Equity at each bar's close: cash plus the open position marked to the close."""
    n = len(history)
    held = np.zeros(n)
    entry = np.zeros(n)
    for trade in trades:
        end = n if trade.exit_bar is None else trade.exit_bar
        signed = trade.quantity if trade.side == "long" else -trade.quantity
        held[trade.entry_bar : end] += signed
        entry[trade.entry_bar : end] = trade.entry_price
        for bar, quantity, _ in trade.exits:
            if bar < end:
                held[bar:end] -= quantity if signed > 0 else -quantity
    cash = initial + np.cumsum(cash_delta[:n])
    return cash + held * (history.close - entry)
