"""Signals reads: scanners and the signal log scoped to their owner, and the dispatcher's rows."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import Case, Count, Prefetch, Q, QuerySet, When

from accounts.models import User
from pipelines.models import Pipeline, PipelineStatus, RunMode
from signals import catalog
from signals.index import PipelineRow, pipeline_row
from signals.models import Scanner, SignalEvent, SignalMatch


def scanners_for_user(*, user: User) -> QuerySet[Scanner]:
    return Scanner.objects.filter(owner=user).annotate(
        pipeline_count=Count("pipelines", distinct=True),
        active_pipeline_count=Count(
            "pipelines", filter=Q(pipelines__status=PipelineStatus.ACTIVE), distinct=True
        ),
    )


def scanner_get(*, user: User, scanner_id) -> Scanner:
    """One of the user's scanners; another user's is DoesNotExist (404)."""
    return scanners_for_user(user=user).get(pk=scanner_id)


def scanner_pipelines(*, scanner: Scanner) -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(scanner=scanner, owner_id=scanner.owner_id).order_by("name")


def signal_pipelines_for_user(*, user: User) -> QuerySet[Pipeline]:
    """The user's pipelines, signal-driven ones first (for the feed's side panel)."""
    return (
        Pipeline.objects.filter(owner=user)
        .exclude(status=PipelineStatus.ARCHIVED)
        .select_related("scanner")
        .order_by(Case(When(run_mode=RunMode.RUN_ON_SIGNAL, then=0), default=1), "name")
    )


def signal_feed_for_user(
    *, user: User, matched_only: bool = False, limit: int = 50
) -> list[SignalEvent]:
    """Recent signals the user may see — market signals and their own webhook signals — each
    with `my_matches` (their pipelines it matched) and `pipeline_names` filled in."""
    events = SignalEvent.objects.filter(Q(owner__isnull=True) | Q(owner=user))
    if matched_only:
        events = events.filter(pk__in=SignalMatch.objects.filter(owner=user).values("event_id"))
    events = list(
        events.prefetch_related(
            Prefetch(
                "matches", queryset=SignalMatch.objects.filter(owner=user), to_attr="my_matches"
            )
        )[:limit]
    )
    pipeline_ids = {match.pipeline_id for event in events for match in event.my_matches}
    names = (
        dict(Pipeline.objects.filter(owner=user, pk__in=pipeline_ids).values_list("pk", "name"))
        if pipeline_ids
        else {}
    )
    for event in events:
        for match in event.my_matches:
            match.pipeline_name = names.get(match.pipeline_id, "(deleted pipeline)")
    return events


def _listening() -> QuerySet[Pipeline]:
    return Pipeline.objects.filter(status=PipelineStatus.ACTIVE, run_mode=RunMode.RUN_ON_SIGNAL)


_ROW_FIELDS = (
    "pk",
    "owner_id",
    "owner__subscription_tier",
    # The grace period after a failed payment: the tier holds until it ends (billing's rule).
    "owner__subscription__status",
    "owner__subscription__grace_until",
    "scanner_id",
    "scanner__tickers",
    "symbols",
    "signal_subscriptions",
)


def _rows(values: Iterable[tuple]) -> Iterator[PipelineRow]:
    allowed: dict[str, frozenset[str]] = {}
    for row_values in values:
        pk, owner_id, tier, status, grace_until, scanner_id, scanner_tickers, symbols, subs = (
            row_values
        )
        tier = catalog.effective_tier_for(tier, status, grace_until)
        if tier not in allowed:
            allowed[tier] = catalog.allowed_signal_types(tier)
        row = pipeline_row(
            pipeline_id=pk,
            owner_id=owner_id,
            scanner_id=scanner_id,
            # A pipeline matches on its scanner's tickers; without a scanner, on its own symbols.
            tickers=(scanner_tickers or []) if scanner_id is not None else (symbols or []),
            subscriptions=subs,
            allowed_types=allowed[tier],
        )
        if row is not None:
            yield row


def signal_pipeline_rows(*, chunk_size: int = 5000) -> Iterator[PipelineRow]:
    """Every active, signal-driven pipeline as an index row (streamed: 100k rows stay cheap)."""
    values = _listening().values_list(*_ROW_FIELDS).iterator(chunk_size=chunk_size)
    return _rows(values)


def signal_pipeline_rows_for(
    *, pipeline_ids: Iterable[str] = (), scanner_ids: Iterable[int] = ()
) -> tuple[dict[str, PipelineRow], set[str]]:
    """Fresh rows for some pipelines (by id, and all on some scanners): (rows that listen,
    every pipeline id looked at). An id looked at without a row must leave the index."""
    pipeline_ids = [str(pk) for pk in pipeline_ids]
    condition = Q(pk__in=pipeline_ids) | Q(scanner_id__in=list(scanner_ids))
    looked_at = {str(pk) for pk in Pipeline.objects.filter(condition).values_list("pk", flat=True)}
    looked_at.update(pipeline_ids)
    values = _listening().filter(condition).values_list(*_ROW_FIELDS)
    return {row.pipeline_id: row for row in _rows(values)}, looked_at


def watched_tickers(*, watchlist: Iterable[str] = (), limit: int = 2000) -> list[str]:
    """What generators scan: the default watchlist, then the tickers of scanners (or symbols)
    of active signal-driven pipelines, most used first, at most `limit`."""
    counts: dict[str, int] = {}
    for scanner_id, scanner_tickers, symbols in _listening().values_list(
        "scanner_id", "scanner__tickers", "symbols"
    ):
        for ticker in (scanner_tickers or []) if scanner_id is not None else (symbols or []):
            ticker = str(ticker).strip().upper()
            if ticker:
                counts[ticker] = counts.get(ticker, 0) + 1
    ordered = dict.fromkeys(str(t).strip().upper() for t in watchlist if str(t).strip())
    for ticker, _ in sorted(counts.items(), key=lambda item: -item[1]):
        ordered.setdefault(ticker)
    return list(ordered)[:limit]
