"""Synthetic headlines and the keyword sentiment score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trading.marketdata.news import (
    BEARISH,
    BULLISH,
    NEUTRAL,
    SyntheticNews,
    score_headline_sentiment,
)
from trading.marketdata.universe import UNIVERSE, company_name

WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)
WEEK_END = datetime(2026, 11, 23, tzinfo=UTC)


def test_it_gives_the_same_headlines_for_the_same_seed():
    first = SyntheticNews(42).headlines(["AAPL", "TSLA"], since=WEEK_START, until=WEEK_END)
    again = SyntheticNews(42).headlines(["AAPL", "TSLA"], since=WEEK_START, until=WEEK_END)
    other = SyntheticNews(43).headlines(["AAPL", "TSLA"], since=WEEK_START, until=WEEK_END)
    assert first == again
    assert first
    assert first != other


def test_it_keeps_to_the_window_in_time_order():
    since = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    until = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    symbols = list(UNIVERSE[:10])
    headlines = SyntheticNews(42).headlines(symbols, since=since, until=until)
    assert headlines
    assert all(since <= h.published_at < until for h in headlines)
    assert [h.published_at for h in headlines] == sorted(h.published_at for h in headlines)
    everything = SyntheticNews(42).headlines(symbols, since=WEEK_START, until=WEEK_END)
    assert [h for h in everything if since <= h.published_at < until] == headlines


def test_it_writes_plausible_headlines_for_the_company():
    headlines = SyntheticNews(42).headlines(["NVDA"], since=WEEK_START, until=WEEK_END)
    for headline in headlines:
        assert headline.symbol == "NVDA"
        assert "Nvidia" in headline.headline or "Nvidia" in headline.summary
        assert headline.url.startswith("https://news.example.com/nvda/")
        assert headline.source
        assert headline.tags
        assert headline.published_at.tzinfo is not None


def test_it_mixes_bullish_bearish_and_neutral_news():
    headlines = SyntheticNews(42).headlines(
        list(UNIVERSE[:20]), since=WEEK_START - timedelta(days=30), until=WEEK_END
    )
    scores = [score_headline_sentiment(h.headline) for h in headlines]
    share = {
        "bullish": sum(s > 0 for s in scores) / len(scores),
        "bearish": sum(s < 0 for s in scores) / len(scores),
        "neutral": sum(s == 0 for s in scores) / len(scores),
    }
    assert all(0.2 < value < 0.5 for value in share.values()), share


@pytest.mark.parametrize(("templates", "sign"), [(BULLISH, 1), (BEARISH, -1), (NEUTRAL, 0)])
def test_it_scores_every_template_with_the_intended_sign(templates, sign):
    fields = {
        "pct": 7,
        "amount": 5,
        "firm": "Harbor Capital",
        "topic": "pricing",
        "conference": "Industrials",
        "weekday": "Tuesday",
    }
    for symbol in UNIVERSE:
        for template, _, _ in templates:
            text = template.format(company=company_name(symbol), symbol=symbol, **fields)
            score = score_headline_sentiment(text)
            assert (score > 0) - (score < 0) == sign, (text, score)


def test_it_skips_symbols_that_are_not_plain_tickers():
    assert (
        SyntheticNews(1).headlines(["brk.b", "", "TOOLONG"], since=WEEK_START, until=WEEK_END) == []
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        SyntheticNews(1).headlines(["AAPL"], since=datetime(2026, 11, 1), until=WEEK_END)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("Apple beats earnings estimates", 0.4, 0.8),
        ("Apple misses earnings estimates", -0.8, -0.4),
        ("Analyst downgraded Apple to sell", -0.8, -0.4),
        ("Apple announces $10 billion buyback", 0.3, 0.8),
        ("Apple faces probe over pricing", -0.8, -0.3),
        ("Apple raises guidance and beats estimates as sales surge", 0.85, 1.0),
        ("Apple cuts guidance", -0.8, -0.4),
        ("Apple is not profitable", -0.5, -0.05),
        ("Shares did not fall after the report", 0.05, 0.5),
        ("Apple fails to beat estimates", -0.8, -0.2),
        ("Apple fails to ship on time", -0.8, -0.2),
        ("Apple to present at a conference on Tuesday", 0.0, 0.0),
        ("", 0.0, 0.0),
        ("APPLE BEATS ESTIMATES", 0.4, 0.8),
        ("Apple doesn\u2019t beat estimates", -0.8, -0.2),
    ],
)
def test_it_scores_sentiment_with_keyword_rules(text, low, high):
    assert low <= score_headline_sentiment(text) <= high


def test_it_keeps_scores_within_minus_one_and_one():
    pile_up = " ".join(["surges beats record upgrade"] * 20)
    assert score_headline_sentiment(pile_up) <= 1.0
    assert score_headline_sentiment(pile_up.replace("surges beats record upgrade", "fraud")) >= -1.0
