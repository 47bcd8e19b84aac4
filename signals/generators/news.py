"""News sentiment: company headlines of the last hour scored, per ticker, bullish or bearish.

The scorer is a seam: by default the keyword rules of `trading.marketdata.news`
(`score_headline_sentiment`, the "rules" engine). An LLM scorer plugs in by dotted path in
SIGNAL_NEWS_SENTIMENT_SCORER — any callable `(text: str) -> float` in [-1, 1], e.g. the one
being added under `agents/llm/` — without changing this generator.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils.module_loading import import_string

from signals.generators.base import SignalGenerator, signal_make
from signals.schemas import Direction, SignalMessage
from trading.marketdata.base import Headline, MarketDataError, NewsProvider
from trading.marketdata.news import score_headline_sentiment

SentimentScorer = Callable[[str], float]


def sentiment_scorer_load(path: str = "") -> SentimentScorer:
    """The scorer named by a dotted path, or the keyword rules when the path is empty."""
    return import_string(path) if path else score_headline_sentiment


class NewsSentimentGenerator(SignalGenerator):
    """Per ticker, the mean sentiment of its headlines in the last hour; at ±0.25 or beyond it
    is a signal (BULLISH above zero). Confidence 50 + 50 × |mean|, so one strongly worded
    headline (about ±0.6) gives 80. A new headline changes the signal id, so it can fire again."""

    name = "news_sentiment"
    signal_types = ("news_sentiment",)
    default_interval = 300.0
    lookback = timedelta(hours=1)
    threshold = 0.25

    def __init__(
        self,
        *,
        news: NewsProvider,
        scorer: SentimentScorer | None = None,
        interval: float | None = None,
    ):
        super().__init__(interval=interval)
        self.news = news
        self.scorer = scorer or score_headline_sentiment

    def scan(self, *, tickers: list[str], now: datetime) -> list[SignalMessage]:
        try:
            headlines = self.news.headlines(tickers, since=now - self.lookback, until=now)
        except MarketDataError:
            return []
        by_ticker: dict[str, list[Headline]] = defaultdict(list)
        for headline in headlines:
            by_ticker[headline.symbol.upper()].append(headline)
        found = []
        for ticker, items in by_ticker.items():
            scores = [self.scorer(f"{item.headline}. {item.summary}") for item in items]
            mean = sum(scores) / len(scores)
            if abs(mean) < self.threshold:
                continue
            digest = hashlib.sha256("|".join(sorted(i.url for i in items)).encode()).hexdigest()
            found.append(
                signal_make(
                    source=self.name,
                    signal_type="news_sentiment",
                    signal_id=f"news_sentiment_{ticker}_{digest[:16]}",
                    now=now,
                    ticker=ticker,
                    direction=Direction.BULLISH if mean > 0 else Direction.BEARISH,
                    confidence=50 + 50 * min(1.0, abs(mean)),
                )
            )
        return found
