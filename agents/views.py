"""My strategies: describe in English, see the generated code, submit; statuses, versions,
review findings and the run audit. Thin: forms in, services and selectors, templates out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.custom import selectors, services
from agents.custom.highlight import highlight_css, highlighted_code
from agents.custom.llm_review import STRATEGY_API
from agents.custom.services import CustomStrategyError
from agents.forms import StrategyEditForm, StrategyForm


def _latest_per_lineage(strategies) -> list:
    seen: dict = {}
    for strategy in strategies:
        group = seen.setdefault(strategy.lineage, {"latest": strategy, "active": None, "count": 0})
        group["count"] += 1
        if strategy.is_active:
            group["active"] = strategy
    return list(seen.values())


@login_required
def custom_list(request: HttpRequest) -> HttpResponse:
    strategies = selectors.strategies_for_user(user=request.user)
    return render(
        request,
        "agents/custom_list.html",
        {"groups": _latest_per_lineage(strategies), "llm_available": services.llm_available()},
    )


@login_required
def custom_new(request: HttpRequest) -> HttpResponse:
    form = StrategyForm(request.POST or None)
    generated = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("action") == "generate":
                code, explanation = services.strategy_generate_code(
                    owner=request.user, description=data["description"]
                )
                generated = {"code": highlighted_code(code), "explanation": explanation}
                form = StrategyForm(initial={**data, "code": code})
            else:
                strategy = services.strategy_create(
                    owner=request.user,
                    name=data["name"],
                    description=data["description"],
                    code=data["code"],
                )
                if request.POST.get("action") == "submit":
                    strategy = services.strategy_submit(strategy=strategy)
                    _say_outcome(request, strategy)
                else:
                    messages.success(request, "Saved as a draft.")
                return redirect("agents:custom-detail", strategy_id=strategy.pk)
        except CustomStrategyError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
    return render(
        request,
        "agents/custom_new.html",
        {
            "form": form,
            "generated": generated,
            "llm_available": services.llm_available(),
            "strategy_api": STRATEGY_API,
            "highlight_css": highlight_css(),
        },
    )


def _say_outcome(request, strategy) -> None:
    if strategy.status == "PENDING_REVIEW":
        messages.success(
            request, "It passed the automated review and waits for an administrator's approval."
        )
    else:
        messages.error(request, "The automated review rejected it; the reasons are below.")


@login_required
def custom_detail(request: HttpRequest, strategy_id) -> HttpResponse:
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    form = StrategyEditForm(initial={"description": strategy.description, "code": strategy.code})
    return render(
        request,
        "agents/custom_detail.html",
        {
            "strategy": strategy,
            "code_html": highlighted_code(strategy.code),
            "highlight_css": highlight_css(),
            "versions": selectors.strategy_versions(strategy=strategy),
            "runs": selectors.strategy_runs(strategy=strategy, limit=25),
            "performance": selectors.strategy_performance(strategy=strategy),
            "form": form,
        },
    )


@login_required
@require_POST
def custom_edit(request: HttpRequest, strategy_id) -> HttpResponse:
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    form = StrategyEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Description and code are required.")
        return redirect("agents:custom-detail", strategy_id=strategy.pk)
    try:
        updated = services.strategy_update(strategy=strategy, **form.cleaned_data)
    except CustomStrategyError as error:
        messages.error(request, error.message)
        return redirect("agents:custom-detail", strategy_id=strategy.pk)
    if updated.pk != strategy.pk:
        messages.success(
            request,
            f"Saved as version {updated.version}. It needs approval again; pipelines keep "
            "running the approved version meanwhile.",
        )
    else:
        messages.success(request, "Draft saved.")
    return redirect("agents:custom-detail", strategy_id=updated.pk)


@login_required
@require_POST
def custom_submit(request: HttpRequest, strategy_id) -> HttpResponse:
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    try:
        strategy = services.strategy_submit(strategy=strategy)
    except CustomStrategyError as error:
        messages.error(request, error.message)
    else:
        _say_outcome(request, strategy)
    return redirect("agents:custom-detail", strategy_id=strategy.pk)


@login_required
@require_POST
def custom_archive(request: HttpRequest, strategy_id) -> HttpResponse:
    strategy = selectors.strategy_for_user(user=request.user, strategy_id=strategy_id)
    services.strategy_archive(strategy=strategy)
    messages.success(request, f"{strategy} is archived; pipelines using it stop trading it.")
    return redirect("agents:custom-detail", strategy_id=strategy.pk)
