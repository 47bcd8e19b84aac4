"""Signals pages: the live feed, the scanner editor, and a pipeline's subscription editor."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.core.errors import Conflict
from pipelines.models import Pipeline
from pipelines.selectors import pipeline_get
from signals import catalog, selectors, services
from signals.forms import (
    ScannerForm,
    subscription_rows,
    subscriptions_from_post,
    tickers_from_text,
)
from signals.models import Scanner


def _add_errors(form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def _owned_scanner(request, scanner_id: int) -> Scanner:
    try:
        return selectors.scanner_get(user=request.user, scanner_id=scanner_id)
    except Scanner.DoesNotExist:
        raise Http404("No such scanner.") from None


def _owned_pipeline(request, pipeline_id) -> Pipeline:
    try:
        return pipeline_get(user=request.user, pipeline_id=pipeline_id)
    except Pipeline.DoesNotExist:
        raise Http404("No such pipeline.") from None


@login_required
def feed(request):
    matched_only = request.GET.get("matched") == "1"
    context = {
        "events": selectors.signal_feed_for_user(user=request.user, matched_only=matched_only),
        "matched_only": matched_only,
    }
    if request.htmx:
        return render(request, "signals/feed.html#feed-rows", context)
    pipelines = list(selectors.signal_pipelines_for_user(user=request.user)[:20])
    for pipeline in pipelines:
        pipeline.listening_problem = services.pipeline_listening_problem(pipeline)
    context["pipelines"] = pipelines
    return render(request, "signals/feed.html", context)


@login_required
def scanners(request):
    form = ScannerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            scanner = services.scanner_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                tickers=form.cleaned_tickers(),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Scanner “{scanner.name}” created.")
            return redirect("signals:scanners")
    context = {"form": form, "scanners": selectors.scanners_for_user(user=request.user)}
    return render(request, "signals/scanners.html", context)


@login_required
def scanner_edit(request, scanner_id: int):
    scanner = _owned_scanner(request, scanner_id)
    initial = {"name": scanner.name, "tickers": ", ".join(scanner.tickers)}
    form = ScannerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.scanner_update(
                scanner=scanner,
                name=form.cleaned_data["name"],
                tickers=tickers_from_text(form.cleaned_data["tickers"]),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Scanner “{scanner.name}” saved.")
            return redirect("signals:scanners")
    context = {
        "scanner": scanner,
        "form": form,
        "pipelines": selectors.scanner_pipelines(scanner=scanner),
    }
    return render(request, "signals/scanner_edit.html", context)


@login_required
@require_POST
def scanner_delete(request, scanner_id: int):
    scanner = _owned_scanner(request, scanner_id)
    try:
        services.scanner_delete(scanner=scanner)
    except Conflict as error:
        messages.error(request, str(error))
        return redirect("signals:scanner-edit", scanner_id=scanner.pk)
    messages.success(request, f"Scanner “{scanner.name}” deleted.")
    return redirect("signals:scanners")


@login_required
def subscriptions(request, pipeline_id):
    pipeline = _owned_pipeline(request, pipeline_id)
    tier = catalog.effective_tier(request.user)
    allowed = catalog.allowed_signal_types(tier)
    errors: list[str] = []
    posted = None
    if request.method == "POST":
        posted = request.POST
        scanner_id = request.POST.get("scanner") or None
        try:
            services.pipeline_signal_settings_set(
                pipeline=pipeline,
                scanner_id=int(scanner_id) if scanner_id and scanner_id.isdigit() else None,
                signal_subscriptions=subscriptions_from_post(request.POST),
            )
        except ValidationError as error:
            errors = [m for messages_ in error.message_dict.values() for m in messages_]
        except PermissionDenied as error:
            errors = [str(error)]
        else:
            messages.success(request, f"Signals for “{pipeline.name}” saved.")
            return redirect("signals:subscriptions", pipeline_id=pipeline.pk)
    context = {
        "pipeline": pipeline,
        "tier": tier,
        "rows": subscription_rows(
            current=pipeline.signal_subscriptions or [], allowed=allowed, posted=posted
        ),
        "scanners": list(selectors.scanners_for_user(user=request.user)),
        "selected_scanner": (
            request.POST.get("scanner", "")
            if posted is not None
            else str(pipeline.scanner_id or "")
        ),
        "problem": services.pipeline_listening_problem(pipeline),
        "errors": errors,
    }
    return render(request, "signals/subscriptions.html", context, status=422 if errors else 200)
