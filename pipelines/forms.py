"""Page forms for pipelines: settings, filters and trading-mode cards. The builder's agent config
fields, built from each agent's JSON Schema, are in `pipelines.config_fields`."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms

from pipelines.models import ExecutionStatus, RunMode, TradingMode
from pipelines.services import TIMEFRAMES
from trading.forms import HistoryFilterForm

# --- Trading modes (spec §12.4) --------------------------------------------------------------


@dataclass(frozen=True)
class ModeOption:
    value: str
    label: str
    description: str
    risk: str
    requires_broker: bool
    requires_confirmation: bool = False


MODE_OPTIONS = [
    ModeOption(
        TradingMode.SIMULATION,
        "Simulation",
        "Fast testing without a broker: fills against market data with slippage, commission, "
        "partial fills and rejections.",
        "No risk — completely simulated",
        requires_broker=False,
    ),
    ModeOption(
        TradingMode.VALIDATION,
        "Validation",
        "Tests the logic only: every agent runs except that no order is placed.",
        "No risk — no trades",
        requires_broker=False,
    ),
    ModeOption(
        TradingMode.PAPER,
        "Paper trading",
        "Realistic testing through your Alpaca paper account.",
        "Low risk — no real money",
        requires_broker=True,
    ),
    ModeOption(
        TradingMode.LIVE,
        "Live trading",
        "Real orders with real money through your Alpaca live account.",
        "High risk — real money at stake",
        requires_broker=True,
        requires_confirmation=True,
    ),
]
TEST_MODES = [TradingMode.SIMULATION, TradingMode.VALIDATION, TradingMode.PAPER]
LIVE_WARNING = (
    "This pipeline will place REAL orders with REAL money through your Alpaca live account. "
    "Test it in simulation and paper trading first."
)

DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
SCHEDULE_TYPES = [
    ("", "No schedule (start by hand, any day)"),
    ("market_open", "At the market open (+ offset)"),
    ("interval", "Every N minutes"),
    ("cron", "Cron expression"),
    ("time_window", "Only inside a time window"),
]


def _optional_decimal(label: str, help_text: str = "", **kwargs) -> forms.DecimalField:
    return forms.DecimalField(label=label, required=False, help_text=help_text, **kwargs)


def _optional_int(label: str, help_text: str = "", **kwargs) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, help_text=help_text, **kwargs)


def symbols_from_text(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").upper().split() if part]


class PipelineSettingsForm(forms.Form):
    """What the builder saves beside the graph: basics, schedule and limits, simulation costs."""

    name = forms.CharField(label="Name", max_length=255)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    symbols = forms.CharField(
        label="Symbols",
        required=False,
        max_length=1200,
        help_text="Tickers separated by commas or spaces, e.g. AAPL, MSFT. Leave empty when a "
        "stock picker chooses them.",
        widget=forms.TextInput(attrs={"placeholder": "AAPL, MSFT", "autocapitalize": "characters"}),
    )
    primary_timeframe = forms.ChoiceField(
        label="Primary timeframe", choices=[(tf, tf) for tf in TIMEFRAMES], initial="5m"
    )
    run_mode = forms.ChoiceField(
        label="Run mode",
        choices=RunMode.choices,
        help_text="Run on signal: each matching signal starts one run for its tickers, and a "
        "trigger is checked once for them (not met: the run ends). Activating starts nothing.",
    )
    daily_budget = _optional_decimal(
        "Daily budget for this pipeline (USD)",
        "Agent and LLM spend per day; empty = only your account budgets apply.",
        min_value=0,
        max_digits=10,
        decimal_places=2,
    )
    # §11.5: what happens when a budget runs out (the pipeline always pauses).
    close_positions_on_budget_exhausted = forms.BooleanField(
        label="Also close this pipeline's positions when its budget runs out",
        required=False,
        help_text="When a daily or monthly budget runs out the pipeline pauses; with this, its "
        "open positions are closed too (close reason “budget”).",
    )
    trading_mode = forms.ChoiceField(
        label="Trading mode",
        choices=[(mode, TradingMode(mode).label) for mode in TEST_MODES],
        initial=TradingMode.SIMULATION,
        required=False,
    )
    # Schedule (§8.2)
    schedule_type = forms.ChoiceField(label="Schedule", choices=SCHEDULE_TYPES, required=False)
    offset_minutes = _optional_int(
        "Minutes after the open", "market_open: start this long after 9:30.", min_value=0
    )
    interval_minutes = _optional_int("Every (minutes)", "interval schedules.", min_value=1)
    cron_expression = forms.CharField(
        label="Cron expression",
        required=False,
        max_length=120,
        help_text="minute hour day-of-month month day-of-week, e.g. 0 10 * * 1-5",
    )
    active_during = forms.ChoiceField(
        label="Interval runs during",
        choices=[
            ("", "Default (market hours)"),
            ("market_hours", "Market hours"),
            ("24/7", "Around the clock"),
        ],
        required=False,
    )
    start_time = forms.CharField(
        label="Window start (HH:MM)", required=False, max_length=5, help_text="e.g. 09:35"
    )
    end_time = forms.CharField(
        label="Window end (HH:MM)", required=False, max_length=5, help_text="e.g. 15:30"
    )
    timezone = forms.ChoiceField(label="Time zone", required=False)
    active_days = forms.MultipleChoiceField(
        label="Active days",
        required=False,
        choices=[(str(day), name) for day, name in enumerate(DAY_NAMES)],
        widget=forms.CheckboxSelectMultiple,
    )
    flatten_positions_at_end = forms.BooleanField(
        label="Close this pipeline's positions when the window ends", required=False
    )
    stop_pipeline_at_end = forms.BooleanField(
        label="Stop the pipeline when the window ends", required=False
    )
    cycle_interval_minutes = _optional_int(
        "Pause between cycles (minutes)", "Continuous pipelines.", min_value=1
    )
    max_trades_per_day = _optional_int("Max trades per day", min_value=1)
    max_executions_per_day = _optional_int("Max runs per day", min_value=1)
    stop_on_daily_loss = _optional_decimal(
        "Stop after a daily loss of (USD)", min_value=Decimal("0.01"), decimal_places=2
    )
    stop_on_drawdown = _optional_decimal(
        "Stop after a drawdown of (%)", min_value=Decimal("0.01"), max_value=100, decimal_places=2
    )
    # Simulation (§12.4)
    slippage_pct = _optional_decimal("Slippage (%)", "Default 0.1%.", min_value=0, max_value=5)
    commission_per_share = _optional_decimal(
        "Commission per share (USD)", "Default $0.005.", min_value=0, max_value=1
    )
    initial_balance = _optional_decimal(
        "Initial balance (USD)", "Default $100,000.", min_value=1, decimal_places=2
    )
    simulate_partial_fills = forms.BooleanField(label="Simulate partial fills", required=False)
    simulate_rejections = forms.BooleanField(label="Simulate order rejections", required=False)
    outside_session = forms.ChoiceField(
        label="Entries while the market is closed",
        choices=[("queue", "Queue for the next open"), ("reject", "Refuse them")],
        required=False,
        help_text="The simulation follows the NYSE calendar; it never fills at a stale price.",
    )
    extended_hours = forms.BooleanField(
        label="Fill in extended hours (04:00–09:30 and 16:00–20:00 New York)", required=False
    )

    SCHEDULE_FIELDS = (
        "schedule_type",
        "offset_minutes",
        "interval_minutes",
        "cron_expression",
        "active_during",
        "start_time",
        "end_time",
        "timezone",
        "active_days",
        "flatten_positions_at_end",
        "stop_pipeline_at_end",
        "cycle_interval_minutes",
        "max_trades_per_day",
        "max_executions_per_day",
        "stop_on_daily_loss",
        "stop_on_drawdown",
    )
    SIMULATION_FIELDS = (
        "slippage_pct",
        "commission_per_share",
        "initial_balance",
        "simulate_partial_fills",
        "simulate_rejections",
        "outside_session",
        "extended_hours",
    )
    BASIC_FIELDS = ("name", "description", "symbols", "primary_timeframe", "run_mode")

    def __init__(self, *args, creating: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.fields["timezone"].choices = [("", "America/New_York (default)")] + [
            (name, name)
            for name in sorted(zoneinfo.available_timezones())
            if "/" in name and not name.startswith("Etc/")
        ]

    @classmethod
    def initial_for(cls, pipeline) -> dict[str, Any]:
        schedule = pipeline.schedule or {}
        mode_config = pipeline.mode_config or {}
        initial: dict[str, Any] = {
            "name": pipeline.name,
            "description": pipeline.description,
            "symbols": ", ".join(pipeline.symbols or []),
            "primary_timeframe": pipeline.primary_timeframe,
            "run_mode": pipeline.run_mode,
            "daily_budget": pipeline.daily_budget,
            "close_positions_on_budget_exhausted": bool(
                (pipeline.settings or {}).get("close_positions_on_budget_exhausted")
            ),
            "trading_mode": pipeline.trading_mode,
            "active_days": [str(day) for day in schedule.get("active_days", range(7))],
            "stop_pipeline_at_end": schedule.get("stop_pipeline_at_end", True),
            "simulate_partial_fills": mode_config.get("simulate_partial_fills", True),
            "simulate_rejections": mode_config.get("simulate_rejections", True),
            "outside_session": mode_config.get("outside_session", "queue"),
            "extended_hours": mode_config.get("extended_hours", False),
        }
        if schedule:
            for name in cls.SCHEDULE_FIELDS:
                if name in schedule and name not in ("active_days", "stop_pipeline_at_end"):
                    initial[name] = schedule[name]
        for name in ("slippage_pct", "commission_per_share", "initial_balance"):
            if name in mode_config:
                initial[name] = mode_config[name]
        return initial

    @classmethod
    def initial_new(cls) -> dict[str, Any]:
        return {
            "run_mode": RunMode.RUN_ONCE,
            "primary_timeframe": "5m",
            "trading_mode": TradingMode.SIMULATION,
            "active_days": [str(day) for day in range(7)],
            "stop_pipeline_at_end": True,
            "simulate_partial_fills": True,
            "simulate_rejections": True,
            "outside_session": "queue",
        }

    def schedule(self) -> dict[str, Any] | None:
        """The §8.2 schedule from the filled-in fields; None when nothing is asked for."""
        data = self.cleaned_data
        schedule: dict[str, Any] = {}
        for name in self.SCHEDULE_FIELDS:
            if name in ("active_days", "stop_pipeline_at_end", "flatten_positions_at_end"):
                continue
            value = data.get(name)
            if value not in (None, ""):
                schedule[name] = str(value) if isinstance(value, Decimal) else value
        if data.get("flatten_positions_at_end"):
            schedule["flatten_positions_at_end"] = True
        days = sorted(int(day) for day in data.get("active_days") or [])
        if schedule or (days and days != list(range(7))):
            schedule["active_days"] = days
            schedule["stop_pipeline_at_end"] = bool(data.get("stop_pipeline_at_end"))
        return schedule or None

    def mode_config(self) -> dict[str, Any]:
        data = self.cleaned_data
        config: dict[str, Any] = {
            "simulate_partial_fills": bool(data.get("simulate_partial_fills")),
            "simulate_rejections": bool(data.get("simulate_rejections")),
            "outside_session": data.get("outside_session") or "queue",
            "extended_hours": bool(data.get("extended_hours")),
        }
        for name in ("slippage_pct", "commission_per_share", "initial_balance"):
            if data.get(name) is not None:
                config[name] = str(data[name])
        return config

    def service_fields(
        self, *, trading_mode: str, current_settings: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for pipeline_create / pipeline_update (`current_settings`: the
        pipeline's settings, which the builder edits only the budget policy of)."""
        data = self.cleaned_data
        fields = {
            "settings": {
                **(current_settings or {}),
                "close_positions_on_budget_exhausted": bool(
                    data.get("close_positions_on_budget_exhausted")
                ),
            },
            "name": data["name"],
            "description": data["description"],
            "symbols": symbols_from_text(data["symbols"]),
            "primary_timeframe": data["primary_timeframe"],
            "run_mode": data["run_mode"],
            "daily_budget": data["daily_budget"],
            "schedule": self.schedule(),
        }
        if trading_mode == TradingMode.SIMULATION:
            fields["mode_config"] = self.mode_config()
        return fields

    def chosen_mode(self) -> str:
        mode = self.cleaned_data.get("trading_mode") or TradingMode.SIMULATION
        return mode if mode in TEST_MODES else TradingMode.SIMULATION

    def add_service_errors(self, messages: dict[str, list[str]]) -> list[str]:
        """Put a service's ValidationError messages on their fields; return the rest."""
        leftovers = []
        for key, texts in messages.items():
            name = key.split(".")[-1] if key.startswith(("schedule.", "mode_config.")) else key
            if name in self.fields:
                for text in texts:
                    self.add_error(name, text)
            else:
                leftovers.extend(f"{key}: {text}" for text in texts)
        return leftovers


class ExecutionFilterForm(HistoryFilterForm):
    STATUS_CHOICES = ExecutionStatus.choices
