"""The default provider: deterministic, realistic synthetic prices that follow XNYS sessions.

Its modules: daily (profiles and skeletons), intraday (minute paths and aggregation), cache (the
bounded caches) and provider (SyntheticProvider, which assembles bars and quotes).

How the prices are built, so any instant is cheap to answer:

1. Per symbol, a *profile* (volatility, price level, growth, average volume, spread) is drawn from
   the seed and the ticker.
2. Per symbol, a *daily skeleton* runs from ANCHOR: each session's open and close, its volatility
   and its volume target. Log prices follow a mean-reverting walk around a slowly growing level,
   with drift and volatility regimes that switch every few weeks to months (so trends, golden and
   death crosses and RSI extremes all happen), an overnight gap, rare earnings-like jumps and
   volume spikes. The random draws are generated in one prefix-stable stream, so extending the
   skeleton further into the future never changes a past session.
3. Per session, the *1-minute path* is a Brownian bridge from that session's open to its close with
   a U-shaped volatility and volume profile, seeded by (seed, symbol, session date). It is
   generated on demand and cached; coarser bars are aggregated from it, and a daily bar's
   high/low/volume are those of its minutes, so the 1d close is always the last 1m close.

Prices are whole cents, volumes whole shares. Nothing depends on Python's per-process `hash()`,
so the same (seed, symbol, timeframe, end, limit) gives identical bars in every process.
"""

from trading.marketdata.synthetic.daily import ANCHOR, SymbolProfile, symbol_profile
from trading.marketdata.synthetic.provider import SyntheticProvider

__all__ = ["ANCHOR", "SymbolProfile", "SyntheticProvider", "symbol_profile"]
