"""A News Trigger in a backtest: the headlines of the project's news provider (synthetic, or
Finnhub's company news when configured) over the whole history, fetched once, matched by the
trigger's own keyword and sentiment rules (`NewsTrigger.matching_headlines`; on the LLM engine
the news crew scores them through a budgeted client on the replay cache, see `llm_budget`),
then counted per bar in vectorised form: the trigger is met at a bar's moment when at least
`min_headlines` matching headlines were published in the `lookback_minutes` before it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np


def news_headlines(history, config: dict, *, moments: np.ndarray, provider=None) -> list:
    """The provider's headlines of the history's symbol that the bars' look-backs reach."""
    from trading.marketdata.base import MarketDataError
    from trading.marketdata.registry import news_provider

    lookback = int(config["lookback_minutes"]) * 60
    since = datetime.fromtimestamp(int(moments[0]) - lookback, UTC)
    until = datetime.fromtimestamp(int(moments[-1]) + 1, UTC)
    source = provider or news_provider()
    try:
        headlines = source.headlines([history.symbol], since=since, until=until)
    except MarketDataError as error:
        raise RuntimeError(f"News trigger: the news provider failed: {error}") from None
    return [h for h in headlines if h.symbol == history.symbol]


def news_trigger_bars(
    history, config: dict, *, moments: np.ndarray, provider=None, llm=None
) -> np.ndarray:
    """True on the bars at whose `moments` (epoch seconds) the News Trigger is met."""
    from agents.builtin.news_trigger import NewsTrigger

    if len(moments) == 0:
        return np.zeros(0, dtype=bool)
    lookback = int(config["lookback_minutes"]) * 60
    headlines = news_headlines(history, config, moments=moments, provider=provider)
    trigger = NewsTrigger("news_trigger", config)
    published = np.sort(
        np.array(
            [
                int(h.published_at.timestamp())
                for h in trigger.matching_headlines(headlines, client=llm)
            ],
            dtype=np.int64,
        )
    )
    # Headlines published in [moment − look-back, moment].
    count = np.searchsorted(published, moments, side="right") - np.searchsorted(
        published, moments - lookback, side="left"
    )
    return count >= int(config["min_headlines"])
