"""The signal types pipelines can subscribe to, and which subscription tier unlocks each (§19.2)."""

from __future__ import annotations

from dataclasses import dataclass

TIERS = ("FREE", "BASIC", "PRO", "ENTERPRISE")


@dataclass(frozen=True)
class SignalType:
    key: str
    label: str
    description: str
    tier: str  # the lowest tier that includes it
    generated: bool = True  # False: it arrives from outside (webhooks), no generator makes it


# Signal buckets (§19.2): FREE gets external signals only, BASIC 5 types, PRO 9, ENTERPRISE all.
SIGNAL_TYPES: dict[str, SignalType] = {
    t.key: t
    for t in [
        SignalType(
            "webhook",
            "Webhook",
            "Your own signals, posted to /api/v1/signals/webhook.",
            "FREE",
            generated=False,
        ),
        SignalType(
            "tradingview",
            "TradingView alert",
            "TradingView alerts sent to your webhook URL.",
            "FREE",
            generated=False,
        ),
        SignalType(
            "golden_cross",
            "Golden cross",
            "SMA 50 crosses above SMA 200 on daily bars (bullish).",
            "BASIC",
        ),
        SignalType(
            "death_cross",
            "Death cross",
            "SMA 50 crosses below SMA 200 on daily bars (bearish).",
            "BASIC",
        ),
        SignalType(
            "rsi_oversold",
            "RSI oversold",
            "RSI 14 drops below 30 on hourly bars (a bounce is likely).",
            "BASIC",
        ),
        SignalType(
            "rsi_overbought",
            "RSI overbought",
            "RSI 14 rises above 70 on hourly bars (a pullback is likely).",
            "BASIC",
        ),
        SignalType(
            "volume_spike",
            "Volume spike",
            "A 15-minute bar trades at least 2.5× its average volume.",
            "BASIC",
        ),
        SignalType(
            "news_sentiment",
            "News sentiment",
            "Company headlines of the last hour lean clearly bullish or bearish.",
            "PRO",
        ),
        SignalType(
            "macd_crossover",
            "MACD crossover",
            "MACD crosses its signal line on hourly bars.",
            "PRO",
        ),
        SignalType(
            "bollinger_breakout",
            "Bollinger breakout",
            "A daily close outside the 20-day, 2σ Bollinger bands.",
            "PRO",
        ),
        SignalType(
            "breakout_20d",
            "20-day breakout",
            "A daily close at a new 20-day high or low.",
            "PRO",
        ),
        SignalType(
            "mock",
            "Demo signal",
            "Random signals for demo tickers (only in a demo installation).",
            "ENTERPRISE",
        ),
    ]
}


def known_signal_types() -> list[str]:
    return list(SIGNAL_TYPES)


def effective_tier(user) -> str:
    """The tier that decides access — billing's one answer (billing.selectors.effective_plan):
    the user's own when limits are enforced (§19.5), else DEFAULT_SUBSCRIPTION_TIER."""
    from billing.selectors import effective_plan

    return effective_plan(user=user).tier


def effective_tier_for(tier: str, status: str | None = None, grace_until=None) -> str:
    """effective_tier from what is stored (the dispatcher reads rows, not users): the owner's
    tier, and their subscription's status and grace period — billing's same rule."""
    from billing.selectors import tier_in_force

    return tier_in_force(own_tier=tier, status=status, grace_until=grace_until)


def allowed_signal_types(tier: str) -> frozenset[str]:
    rank = TIERS.index(tier) if tier in TIERS else 0
    return frozenset(key for key, t in SIGNAL_TYPES.items() if TIERS.index(t.tier) <= rank)


def required_tier(signal_type: str) -> str | None:
    entry = SIGNAL_TYPES.get(signal_type)
    return entry.tier if entry else None
