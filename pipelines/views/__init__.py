"""Pipeline pages, split by concern: pages (list, detail, controls, executions, reports), the
visual builder, and the live fragments the websocket consumer pushes; helpers they share.
`pipelines.urls` and the consumer keep using `pipelines.views.<name>`."""

from pipelines.views.builder import builder_node, builder_validate, palette, pipeline_builder
from pipelines.views.helpers import graph_layers
from pipelines.views.live import (
    EXECUTION_ROW_EVENTS,
    live_execution_fragments,
    live_user_fragments,
)
from pipelines.views.pages import (
    execution_detail,
    execution_list,
    execution_stop,
    pipeline_clone,
    pipeline_clone_live,
    pipeline_control,
    pipeline_delete,
    pipeline_detail,
    pipeline_from_template,
    pipeline_list,
    pipeline_mode,
    pipeline_run,
    report_detail,
)

__all__ = [
    "EXECUTION_ROW_EVENTS",
    "builder_node",
    "builder_validate",
    "execution_detail",
    "execution_list",
    "execution_stop",
    "graph_layers",
    "live_execution_fragments",
    "live_user_fragments",
    "palette",
    "pipeline_builder",
    "pipeline_clone",
    "pipeline_clone_live",
    "pipeline_control",
    "pipeline_delete",
    "pipeline_detail",
    "pipeline_from_template",
    "pipeline_list",
    "pipeline_mode",
    "pipeline_run",
    "report_detail",
]
