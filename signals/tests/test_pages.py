"""Signals pages: the feed (and its htmx fragment), scanners, and subscriptions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pipelines.blueprints import pipeline_create_from_blueprint
from pipelines.models import PipelineStatus
from signals.models import MatchOutcome, Scanner, SignalEvent, SignalMatch
from signals.tests.factories import ScannerFactory, signal_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def outsider_client(outsider):
    client = Client()
    client.force_login(outsider)
    return client


def _event(*, owner=None, signal_id="gc_1_AAPL", matches=()):
    event = SignalEvent.objects.create(
        dedup_key=f"{owner.pk if owner else '-'}:{signal_id}",
        signal_id=signal_id,
        signal_type="golden_cross",
        source="golden_cross",
        owner=owner,
        tickers=[{"ticker": "AAPL", "signal": "BULLISH", "confidence": 85.5}],
        signal_at=datetime(2026, 11, 24, 15, tzinfo=UTC),
        received_at=timezone.now(),
        matched_count=len(matches),
    )
    for pipeline in matches:
        SignalMatch.objects.create(
            event=event,
            owner=pipeline.owner,
            pipeline_id=pipeline.pk,
            execution_id=uuid.uuid4(),
            symbols=["AAPL"],
            outcome=MatchOutcome.STARTED,
        )
    return event


def test_the_feed_has_a_helpful_empty_state(owner_client):
    response = owner_client.get(reverse("signals:feed"))

    assert response.status_code == 200
    content = response.content.decode()
    assert "No signals yet" in content
    assert "No pipelines yet" in content
    assert 'hx-trigger="every 5s"' in content


def test_the_feed_shows_signals_with_the_users_matches_only(
    owner, peer, owner_client, django_assert_max_num_queries
):
    mine = signal_pipeline(owner=owner, name="Golden AAPL")
    theirs = signal_pipeline(owner=peer, name="Peer pipeline")
    _event(matches=[mine, theirs])
    _event(owner=peer, signal_id="peer-webhook")

    with django_assert_max_num_queries(12):
        response = owner_client.get(reverse("signals:feed"))

    content = response.content.decode()
    assert "golden_cross" in content
    assert "Golden AAPL" in content
    assert "Peer pipeline" not in content
    assert "peer-webhook" not in content


def test_the_feed_fragment_is_served_to_htmx(owner, owner_client):
    _event()

    response = owner_client.get(reverse("signals:feed"), headers={"HX-Request": "true"})

    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<section id="feed-rows"')
    assert "<html" not in content
    assert "AAPL" in content


def test_the_matched_filter_has_its_own_empty_state(owner, owner_client):
    _event()

    response = owner_client.get(reverse("signals:feed") + "?matched=1")

    assert "No signal has matched your pipelines yet" in response.content.decode()


def test_scanners_page_lists_and_creates(owner, owner_client, django_assert_max_num_queries):
    assert "No scanners yet" in owner_client.get(reverse("signals:scanners")).content.decode()

    response = owner_client.post(
        reverse("signals:scanners"), {"name": "Tech", "tickers": "aapl, msft\nNVDA"}
    )

    assert response.status_code == 302
    scanner = Scanner.objects.get(owner=owner)
    assert scanner.tickers == ["AAPL", "MSFT", "NVDA"]
    with django_assert_max_num_queries(8):
        listing = owner_client.get(reverse("signals:scanners")).content.decode()
    assert "Tech" in listing


def test_an_invalid_ticker_is_shown_on_the_form(owner, owner_client):
    response = owner_client.post(reverse("signals:scanners"), {"name": "Bad", "tickers": "AAPL $$"})

    assert response.status_code == 200
    assert "is not a ticker symbol" in response.content.decode()
    assert not Scanner.objects.exists()


def test_a_scanner_is_edited_and_deleted(owner, owner_client):
    scanner = ScannerFactory(owner=owner, name="Old", tickers=["AAPL"])
    edit_url = reverse("signals:scanner-edit", args=[scanner.pk])
    assert "data-confirm" in owner_client.get(edit_url).content.decode()

    owner_client.post(edit_url, {"name": "New", "tickers": "TSLA"})
    scanner.refresh_from_db()
    assert (scanner.name, scanner.tickers) == ("New", ["TSLA"])

    response = owner_client.post(reverse("signals:scanner-delete", args=[scanner.pk]))
    assert response.status_code == 302
    assert not Scanner.objects.filter(pk=scanner.pk).exists()


def test_deleting_a_scanner_in_use_is_refused_on_the_page(owner, owner_client):
    scanner = ScannerFactory(owner=owner)
    signal_pipeline(owner=owner, scanner=scanner, name="Uses it")

    response = owner_client.post(reverse("signals:scanner-delete", args=[scanner.pk]), follow=True)

    assert "is used by active pipelines" in response.content.decode()
    assert Scanner.objects.filter(pk=scanner.pk).exists()


def test_outsiders_get_404_on_scanner_and_subscription_pages(owner, outsider_client):
    scanner = ScannerFactory(owner=owner, name="Mine")
    pipeline = signal_pipeline(owner=owner, scanner=scanner)

    assert (
        outsider_client.get(reverse("signals:scanner-edit", args=[scanner.pk])).status_code == 404
    )
    assert (
        outsider_client.post(reverse("signals:scanner-delete", args=[scanner.pk])).status_code
        == 404
    )
    assert (
        outsider_client.post(
            reverse("signals:subscriptions", args=[pipeline.pk]), {"subscribe_webhook": "on"}
        ).status_code
        == 404
    )
    assert Scanner.objects.filter(pk=scanner.pk, name="Mine").exists()
    pipeline.refresh_from_db()
    assert pipeline.signal_subscriptions == [{"signal_type": "golden_cross", "min_confidence": 0}]


def test_the_subscription_editor_saves_a_scanner_and_signals(owner, owner_client):
    pipeline, _ = pipeline_create_from_blueprint(owner=owner, key="golden_cross_1d")
    scanner = ScannerFactory(owner=owner, name="Tech")
    url = reverse("signals:subscriptions", args=[pipeline.pk])
    page = owner_client.get(url).content.decode()
    assert "Signals will not start this pipeline yet" in page

    response = owner_client.post(
        url,
        {
            "scanner": str(scanner.pk),
            "subscribe_golden_cross": "on",
            "min_golden_cross": "80",
            "min_rsi_oversold": "30",  # not ticked: ignored
        },
    )

    assert response.status_code == 302
    pipeline.refresh_from_db()
    assert pipeline.scanner_id == scanner.pk
    assert pipeline.signal_subscriptions == [{"signal_type": "golden_cross", "min_confidence": 80}]


def test_the_subscription_editor_shows_errors(owner, owner_client):
    pipeline = signal_pipeline(owner=owner, status=PipelineStatus.ACTIVE)
    url = reverse("signals:subscriptions", args=[pipeline.pk])

    response = owner_client.post(url, {"subscribe_golden_cross": "on", "min_golden_cross": "250"})

    assert response.status_code == 422
    assert "between 0 and 100" in response.content.decode()
    pipeline.refresh_from_db()
    assert pipeline.signal_subscriptions == [{"signal_type": "golden_cross", "min_confidence": 0}]


def test_pages_need_a_login():
    response = Client().get(reverse("signals:feed"))

    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_it_explains_what_a_ticker_chip_means(owner, owner_client):
    _event()
    html = owner_client.get(reverse("signals:feed")).content.decode()
    assert 'data-testid="signal-legend"' in html
    assert (
        "means a <strong>bullish</strong> signal on MSFT with <strong>83</strong>% confidence"
        in html
    )
    assert 'aria-label="AAPL: bullish signal, 86% confidence"' in html
