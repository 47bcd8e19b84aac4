"""Signals writes, one module per concern: scanners, subscriptions, intake (publishing and
webhooks), dispatch (the executions a signal starts, exactly once) and retention. Importers may
keep using `signals.services.<name>`; the names are re-exported here."""

from signals.services.dispatch import (
    RUN_UNDER_WAY,
    DispatchRecord,
    dedup_key,
    signal_dispatch_record,
)
from signals.services.intake import (
    SignalBodyInvalid,
    signal_publish,
    webhook_signal_parse,
    webhook_signal_receive,
)
from signals.services.retention import signal_log_cleanup
from signals.services.scanners import (
    DEMO_SCANNER_NAME,
    DEMO_SCANNER_TICKERS,
    demo_scanner_seed,
    scanner_create,
    scanner_delete,
    scanner_tickers_clean,
    scanner_update,
)
from signals.services.subscriptions import (
    MAX_SUBSCRIPTIONS,
    pipeline_listening_problem,
    pipeline_signal_settings_set,
    subscriptions_check_tier,
    subscriptions_validate,
)

__all__ = [
    "DEMO_SCANNER_NAME",
    "DEMO_SCANNER_TICKERS",
    "MAX_SUBSCRIPTIONS",
    "RUN_UNDER_WAY",
    "DispatchRecord",
    "SignalBodyInvalid",
    "dedup_key",
    "demo_scanner_seed",
    "pipeline_listening_problem",
    "pipeline_signal_settings_set",
    "scanner_create",
    "scanner_delete",
    "scanner_tickers_clean",
    "scanner_update",
    "signal_dispatch_record",
    "signal_log_cleanup",
    "signal_publish",
    "subscriptions_check_tier",
    "subscriptions_validate",
    "webhook_signal_parse",
    "webhook_signal_receive",
]
