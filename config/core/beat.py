"""Periodic tasks, defined in code and synced into django-celery-beat by `sync_beat_schedule`."""

# name → (task name, every N seconds). Waits longer than a few minutes live in the database and
# these sweeps pick them up; nothing relies on long countdowns.
BEAT_SCHEDULE: dict[str, tuple[str, float]] = {
    "pipelines: resume executions whose trigger is due": ("pipelines.executions_resume_due", 10.0),
    "pipelines: reap executions whose worker vanished": ("pipelines.executions_reap_stale", 30.0),
    "pipelines: trading windows (end of day, first cycles)": ("pipelines.windows_check", 60.0),
    "trading: monitor open positions (stops, targets, broker fills)": (
        "trading.positions_monitor",
        15.0,
    ),
    "pipelines: end-of-day summaries to traders' channels": ("pipelines.daily_summaries", 600.0),
    "signals: delete signal log rows past their retention": ("signals.signal_log_cleanup", 3600.0),
    "billing: report yesterday's usage fees to Stripe": ("billing.usage_report", 3600.0),
}
