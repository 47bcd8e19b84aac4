"""Pipeline page routes: /pipelines/… (list, builder, detail, controls), /executions/… (the
live monitor and history) and /reports/… (the report viewer)."""

from django.urls import path

from pipelines import views
from pipelines.backtest import sweep_views, walkforward_views
from pipelines.backtest import views as backtest_views

app_name = "pipelines"

urlpatterns = [
    path("pipelines/", views.pipeline_list, name="list"),
    path("pipelines/new/", views.pipeline_builder, name="builder"),
    path("pipelines/from-template/", views.pipeline_from_template, name="from-template"),
    path("pipelines/builder/node/", views.builder_node, name="builder-node"),
    path("pipelines/builder/validate/", views.builder_validate, name="builder-validate"),
    path("pipelines/<uuid:pipeline_id>/", views.pipeline_detail, name="detail"),
    path("pipelines/<uuid:pipeline_id>/edit/", views.pipeline_builder, name="builder"),
    path("pipelines/<uuid:pipeline_id>/run/", views.pipeline_run, name="run"),
    path(
        "pipelines/<uuid:pipeline_id>/activate/",
        views.pipeline_control,
        {"action": "activate"},
        name="activate",
    ),
    path(
        "pipelines/<uuid:pipeline_id>/pause/",
        views.pipeline_control,
        {"action": "pause"},
        name="pause",
    ),
    path(
        "pipelines/<uuid:pipeline_id>/stop/",
        views.pipeline_control,
        {"action": "stop"},
        name="stop",
    ),
    path("pipelines/<uuid:pipeline_id>/mode/", views.pipeline_mode, name="mode"),
    path("pipelines/<uuid:pipeline_id>/clone/", views.pipeline_clone, name="clone"),
    path("pipelines/<uuid:pipeline_id>/clone-live/", views.pipeline_clone_live, name="clone-live"),
    path("pipelines/<uuid:pipeline_id>/delete/", views.pipeline_delete, name="delete"),
    path(
        "pipelines/<uuid:pipeline_id>/backtests/",
        backtest_views.backtest_home,
        name="backtests",
    ),
    path(
        "pipelines/<uuid:pipeline_id>/datasets/",
        backtest_views.dataset_add,
        name="dataset-add",
    ),
    path(
        "pipelines/<uuid:pipeline_id>/sweeps/",
        sweep_views.sweep_start,
        name="sweep-start",
    ),
    path(
        "pipelines/<uuid:pipeline_id>/walkforwards/",
        walkforward_views.walkforward_start,
        name="walkforward-start",
    ),
    path(
        "walkforwards/<uuid:walkforward_id>/",
        walkforward_views.walkforward_detail,
        name="walkforward",
    ),
    path(
        "walkforwards/<uuid:walkforward_id>/cancel/",
        walkforward_views.walkforward_cancel,
        name="walkforward-cancel",
    ),
    path("sweeps/<uuid:sweep_id>/", sweep_views.sweep_detail, name="sweep"),
    path("sweeps/<uuid:sweep_id>/cancel/", sweep_views.sweep_cancel, name="sweep-cancel"),
    path("backtests/<uuid:backtest_id>/", backtest_views.backtest_detail, name="backtest"),
    path(
        "backtests/<uuid:backtest_id>/cancel/",
        backtest_views.backtest_cancel,
        name="backtest-cancel",
    ),
    path("executions/", views.execution_list, name="executions"),
    path("executions/<uuid:execution_id>/", views.execution_detail, name="execution"),
    path("executions/<uuid:execution_id>/stop/", views.execution_stop, name="execution-stop"),
    path("reports/<uuid:report_id>/", views.report_detail, name="report"),
]
