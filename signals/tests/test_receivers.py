"""What the signals app answers for other apps: scanner tickers for runs, a demo scanner."""

from __future__ import annotations

import pytest

from accounts.demo import demo_account_seed
from pipelines.hooks import symbol_source_for
from signals.models import Scanner
from signals.services import DEMO_SCANNER_NAME
from signals.tests.factories import ScannerFactory

pytestmark = pytest.mark.django_db


def test_runs_read_only_their_owners_scanners(owner, outsider):
    mine = ScannerFactory(owner=owner, tickers=["AAPL", "MSFT"])
    theirs = ScannerFactory(owner=outsider, tickers=["TSLA"])

    source = symbol_source_for(owner=owner)

    assert source.scanner_tickers(str(mine.pk)) == ["AAPL", "MSFT"]
    assert source.scanner_tickers(theirs.pk) == []
    assert source.scanner_tickers("not-an-id") == []


def test_the_demo_account_gets_a_scanner_once(settings):
    settings.DEMO_EMAIL = "demo@example.com"
    user, _ = demo_account_seed(password="a-long-demo-password")
    demo_account_seed(password="a-long-demo-password")

    scanner = Scanner.objects.get(owner=user)
    assert scanner.name == DEMO_SCANNER_NAME
    assert scanner.tickers
