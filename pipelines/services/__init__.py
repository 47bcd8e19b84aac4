"""Pipeline writes, one module per concern: a pipeline's fields checked (fields), pipelines
created, changed, cloned and deleted (editing), executions started and stopped (executions),
the beat's sweeps over executions (sweeps) and trading mode changes (modes). Importers may keep
using `pipelines.services.<name>`: every public name, and the private one a benchmark uses, is
re-exported here."""

from pipelines.services.editing import (
    pipeline_clone,
    pipeline_create,
    pipeline_delete,
    pipeline_update,
)
from pipelines.services.executions import (
    EXECUTIONS_INSERT_CTE,
    _execution_insert,
    execution_enqueue,
    execution_row,
    execution_start,
    execution_stop,
    executions_params,
    signal_execution_row,
)
from pipelines.services.fields import (
    MAX_SYMBOLS,
    SYMBOL_PATTERN,
    TIMEFRAMES,
    free_pipeline_name,
    normalize_symbols,
)
from pipelines.services.modes import (
    live_mode_requirements,
    paper_mode_requirements,
    pipeline_clone_as_live,
    pipeline_mode_change,
)
from pipelines.services.sweeps import (
    PENDING_RESEND_AFTER,
    executions_reap_stale,
    executions_resume_due,
)

__all__ = [
    "EXECUTIONS_INSERT_CTE",
    "MAX_SYMBOLS",
    "PENDING_RESEND_AFTER",
    "SYMBOL_PATTERN",
    "TIMEFRAMES",
    "_execution_insert",
    "execution_enqueue",
    "execution_row",
    "execution_start",
    "execution_stop",
    "executions_params",
    "executions_reap_stale",
    "executions_resume_due",
    "free_pipeline_name",
    "live_mode_requirements",
    "normalize_symbols",
    "paper_mode_requirements",
    "pipeline_clone",
    "pipeline_clone_as_live",
    "pipeline_create",
    "pipeline_delete",
    "pipeline_mode_change",
    "pipeline_update",
    "signal_execution_row",
]
