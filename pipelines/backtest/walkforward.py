"""Walk-forward analysis: optimise the grid in-sample, trade the winner out-of-sample, roll the
windows forward; only out-of-sample results are reported, with how many combinations were tried
(the more tried, the likelier the in-sample winner is luck: an overfitting warning)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.backtest.checks import graph_with
from pipelines.backtest.engine import Costs, History, run_backtest
from pipelines.backtest.plan import plan_from_pipeline
from pipelines.backtest.sweep_services import sweep_combinations


@dataclass
class Window:
    in_sample: tuple[int, int]  # bar indices [start, end)
    out_of_sample: tuple[int, int]
    parameters: dict
    in_sample_return_pct: float
    out_of_sample_return_pct: float
    out_of_sample_trades: int


@dataclass
class WalkForward:
    windows: list[Window] = field(default_factory=list)
    combinations_tried: int = 0

    @property
    def out_of_sample_return_pct(self) -> float:
        growth = 1.0
        for window in self.windows:
            growth *= 1 + window.out_of_sample_return_pct / 100
        return round((growth - 1) * 100, 4)

    @property
    def warning(self) -> str:
        return (
            f"{self.combinations_tried} combinations were tried in each in-sample window; only "
            "the out-of-sample results above say anything about the future, and the more "
            "combinations tried, the more the in-sample winner owes to luck."
        )


def _slice(history: History, start: int, end: int) -> History:
    return History(
        history.symbol,
        history.timeframe,
        *(
            getattr(history, name)[start:end]
            for name in ("open_seconds", "open", "high", "low", "close", "volume")
        ),
    )


def _return_pct(equity, since: int) -> float:
    base = float(equity[since - 1]) if since > 0 else float(equity[0])
    return (float(equity[-1]) / base - 1) * 100 if base else 0.0


def walk_forward(
    *,
    history: History,
    graph: dict,
    schedule: dict | None,
    grid: dict,
    costs: Costs,
    in_sample_bars: int,
    out_of_sample_bars: int,
    side: str = "long",
    on_window=None,
) -> WalkForward:
    """Rolling windows of `in_sample_bars` then `out_of_sample_bars`, stepping by the latter.
    The out-of-sample run starts at the in-sample start so its indicators are warm, and only
    what happens after the in-sample end counts."""
    combinations = sweep_combinations(grid)
    plans = [
        (
            parameters,
            plan_from_pipeline(
                graph=graph_with(graph, parameters),
                schedule=schedule,
                timeframe=history.timeframe,
                side=side,
            ),
        )
        for parameters in combinations
    ]
    result = WalkForward(combinations_tried=len(combinations))
    start = 0
    while start + in_sample_bars + out_of_sample_bars <= len(history):
        split = start + in_sample_bars
        end = split + out_of_sample_bars
        sample = _slice(history, start, split)
        scored = [
            (run_backtest(sample, plan, costs).final_equity, index)
            for index, (_, plan) in enumerate(plans)
        ]
        best_equity, best = max(scored, key=lambda pair: (pair[0], -pair[1]))
        parameters, plan = plans[best]
        run = run_backtest(_slice(history, start, end), plan, costs)
        result.windows.append(
            Window(
                in_sample=(start, split),
                out_of_sample=(split, end),
                parameters=parameters,
                in_sample_return_pct=round((best_equity / costs.initial_cash - 1) * 100, 4),
                out_of_sample_return_pct=round(_return_pct(run.equity, in_sample_bars), 4),
                out_of_sample_trades=sum(1 for t in run.trades if t.entry_bar >= in_sample_bars),
            )
        )
        start += out_of_sample_bars
        # Progress after each window; a False answer stops here (cancelled): the windows done
        # so far are the result.
        if on_window is not None and not on_window(len(result.windows)):
            break
    return result


def window_count(bars: int, in_sample_bars: int, out_of_sample_bars: int) -> int:
    """How many rolling windows fit in `bars` (each in-sample then out-of-sample)."""
    if in_sample_bars < 1 or out_of_sample_bars < 1 or bars < in_sample_bars + out_of_sample_bars:
        return 0
    return (bars - in_sample_bars - out_of_sample_bars) // out_of_sample_bars + 1
