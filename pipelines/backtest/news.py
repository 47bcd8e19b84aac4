"""A News Trigger in a backtest: the headlines of the project's news provider (synthetic, or
Finnhub's company news when configured) over the whole history, fetched once, matched by the
trigger's own keyword and sentiment rules (`NewsTrigger.matching_headlines`, the rules engine:
a backtest spends no tokens), then counted per bar in vectorised form: the trigger is met at a
bar's moment when at least `min_headlines` matching headlines were published in the
`lookback_minutes` before it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np


def news_trigger_bars(history, config: dict, *, moments: np.ndarray, provider=None) -> np.ndarray:
    """True on the bars at whose `moments` (epoch seconds) the News Trigger is met."""
    from agents.builtin.news_trigger import NewsTrigger
    from trading.marketdata.base import MarketDataError
    from trading.marketdata.registry import news_provider

    if len(moments) == 0:
        return np.zeros(0, dtype=bool)
    lookback = int(config["lookback_minutes"]) * 60
    since = datetime.fromtimestamp(int(moments[0]) - lookback, UTC)
    until = datetime.fromtimestamp(int(moments[-1]) + 1, UTC)
    source = provider or news_provider()
    try:
        headlines = source.headlines([history.symbol], since=since, until=until)
    except MarketDataError as error:
        raise RuntimeError(f"News trigger: the news provider failed: {error}") from None
    trigger = NewsTrigger("news_trigger", config)
    published = np.sort(
        np.array(
            [
                int(h.published_at.timestamp())
                for h in trigger.matching_headlines(headlines)
                if h.symbol == history.symbol
            ],
            dtype=np.int64,
        )
    )
    # Headlines published in [moment − look-back, moment].
    count = np.searchsorted(published, moments, side="right") - np.searchsorted(
        published, moments - lookback, side="left"
    )
    return count >= int(config["min_headlines"])
