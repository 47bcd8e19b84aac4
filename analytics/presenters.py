"""How a scope's performance is shown: the metric cards, the chart series, the breakdown bars and
the JSON the API returns — one place, so the page, the API and the PDF show the same figures."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from analytics import metrics
from analytics.selectors import Performance
from analytics.templatetags.tradecrew import money, signed_money

MINUS = "−"  # the same minus sign the money filters use


def percent(value: float | None, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{places}f}%".replace("-", MINUS)


def ratio(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:.2f}".replace("-", MINUS)


def holding(value: timedelta | None) -> str:
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _tone(value) -> str:
    if value is None:
        return ""
    return "gain" if value > 0 else "loss" if value < 0 else ""


def _card(key: str, label: str, value: str, hint: str, tone: str = "") -> dict[str, str]:
    return {"key": key, "label": label, "value": value, "tone": tone, "hint": hint}


def cards(perf: Performance) -> list[dict[str, str]]:
    """The metric cards, in reading order: money first, then the odds, then the risk."""
    f = perf.figures()
    return [*_money_cards(perf, f), *_odds_cards(f), *_risk_cards(f)]


def _money_cards(perf: Performance, f: dict) -> list[dict[str, str]]:
    """Net P&L, P&L after the agents' costs, and the return on the allocated capital."""
    after = f["pnl_after_costs"]
    cost_hint = f"after {money(f['agent_costs'])} of agent and model costs"
    if f["net_pnl"] > 0 > after:
        cost_hint = f"trades made money, but {money(f['agent_costs'])} of model costs ate it"
    return [
        _card(
            "net_pnl",
            "Net P&L",
            signed_money(f["net_pnl"]),
            f"gross {signed_money(f['gross_pnl'])} · commissions "
            f"{money(f['commissions'])} · slippage {money(f['slippage'])}",
            _tone(f["net_pnl"]),
        ),
        _card("pnl_after_costs", "P&L after costs", signed_money(after), cost_hint, _tone(after)),
        _card(
            "roi",
            "Return on capital",
            percent(f["roi"], 2),
            f"on {money(perf.capital)} allocated",
            _tone(f["roi"]),
        ),
    ]


def _odds_cards(f: dict) -> list[dict[str, str]]:
    """Trades, win rate, profit factor, expectancy and the largest win and loss."""
    return [
        _card(
            "trades",
            "Trades",
            str(f["trades"]),
            f"{f['long_short']['long']['count']} long · {f['long_short']['short']['count']} short",
        ),
        _card(
            "win_rate",
            "Win rate",
            percent(f["win_rate"]),
            f"{f['winning_trades']} won · {f['losing_trades']} lost",
        ),
        _card(
            "profit_factor",
            "Profit factor",
            ratio(f["profit_factor"]),
            f"avg win {signed_money(f['average_win'])} · "
            f"avg loss {signed_money(f['average_loss'])}",
        ),
        _card(
            "expectancy",
            "Expectancy",
            signed_money(f["expectancy"]),
            "per trade, after commissions",
            _tone(f["expectancy"]),
        ),
        _card(
            "largest",
            "Largest win / loss",
            f"{signed_money(f['largest_win'])} / {signed_money(f['largest_loss'])}",
            f"streaks: {f['max_consecutive_wins']} wins · {f['max_consecutive_losses']} losses",
        ),
    ]


def _risk_cards(f: dict) -> list[dict[str, str]]:
    """Drawdown, risk-adjusted ratios, volatility and the time spent in the market."""
    drawdown_hint = "no drawdown"
    if f["max_drawdown_peak"]:
        recovered = f["max_drawdown_recovery"]
        drawdown_hint = f"{f['max_drawdown_peak']:%d %b} → {f['max_drawdown_trough']:%d %b}, " + (
            f"recovered {recovered:%d %b}" if recovered else "not recovered yet"
        )
    return [
        _card(
            "max_drawdown",
            "Max drawdown",
            percent(f["max_drawdown"], 2),
            drawdown_hint,
            "loss" if f["max_drawdown"] else "",
        ),
        _card(
            "sharpe",
            "Sharpe",
            ratio(f["sharpe"]),
            f"Sortino {ratio(f['sortino'])} · Calmar {ratio(f['calmar'])}",
        ),
        _card(
            "volatility",
            "Volatility",
            percent(f["volatility"], 2),
            f"annualised · CAGR {percent(f['cagr'], 2)}",
        ),
        _card(
            "holding",
            "Average hold",
            holding(f["average_holding_time"]),
            f"in the market {percent(f['exposure'])} of the time",
        ),
    ]


def _day(value: date | datetime) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()


def chart_series(perf: Performance) -> dict[str, list]:
    """Equity and drawdown per day, as lightweight-charts reads them ({time, value})."""
    return {
        "equity": [{"time": _day(d), "value": float(v)} for d, v in perf.equity],
        "drawdown": [{"time": _day(d), "value": round(dd * 100, 4)} for d, dd in perf.drawdown()],
    }


def rebased_series(perf: Performance) -> list[dict]:
    """Equity rebased to 100 at its first point (the comparison's chart)."""
    return [{"time": _day(d), "value": round(v, 4)} for d, v in metrics.rebased(perf.equity)]


def bars(rows: list[dict], label_key: str = "key") -> list[dict]:
    """Breakdown rows with a bar width: the share of the largest |P&L| in the breakdown."""
    widest = max((abs(row["net_pnl"]) for row in rows), default=Decimal("0"))
    return [
        {
            **row,
            "label": row.get("label") or row[label_key],
            "width": int(abs(row["net_pnl"]) / widest * 100) if widest else 0,
            "tone": _tone(row["net_pnl"]),
        }
        for row in rows
    ]


BREAKDOWN_TITLES = {
    "symbol": "By symbol",
    "pipeline": "By pipeline",
    "weekday": "By day of week (entry, exchange time)",
    "hour": "By hour of entry (exchange time)",
    "direction": "By direction",
    "close_reason": "By close reason",
}


def breakdown_panels(perf: Performance) -> list[dict]:
    return [
        {"key": key, "title": BREAKDOWN_TITLES[key], "rows": bars(rows)}
        for key, rows in perf.breakdowns.items()
    ]


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, float):
        return None if math.isnan(value) else ("inf" if math.isinf(value) else value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def api_payload(perf: Performance, *, series: bool = True) -> dict[str, Any]:
    """The performance of a scope as the API returns it: the same figures as the page."""
    scope = perf.scope
    payload = {
        "mode": scope.mode,
        "no_real_money": scope.no_real_money,
        "period": scope.period,
        "start": perf.equity[1][0].isoformat() if len(perf.equity) > 1 else None,
        "end": scope.last_day.isoformat(),
        "pipeline_ids": [str(p) for p in scope.pipeline_ids],
        "capital": _json_value(perf.capital),
        "metrics": _json_value(perf.figures()),
        "breakdowns": _json_value(perf.breakdowns),
    }
    if series:
        payload["equity"] = [
            {"date": _day(d), "equity": str(v), "drawdown": round(dd, 8)}
            for (d, v), (_, dd) in zip(perf.equity, perf.drawdown(), strict=True)
        ]
    return payload
