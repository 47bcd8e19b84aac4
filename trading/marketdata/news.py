"""Synthetic company headlines and a keyword-rule sentiment score for headlines."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta

from trading.calendar import NEW_YORK
from trading.marketdata.base import Headline, NewsProvider
from trading.marketdata.seeding import uniform
from trading.marketdata.universe import company_name, is_plain_ticker

# -- sentiment ---------------------------------------------------------------------------------

# Weights: about 2 for an unambiguous market-moving word, 1 for a mild one.
POSITIVE_WORDS: dict[str, float] = {
    "beat": 2.0, "beats": 2.0, "tops": 1.5, "exceeds": 1.5, "surpasses": 1.5,
    "surge": 2.0, "surges": 2.0, "soar": 2.0, "soars": 2.0, "jump": 1.5, "jumps": 1.5,
    "rally": 1.5, "rallies": 1.5, "gain": 1.0, "gains": 1.0, "rise": 1.0, "rises": 1.0,
    "climb": 1.0, "climbs": 1.0, "record": 1.0, "upgrade": 2.0, "upgrades": 2.0,
    "upgraded": 2.0, "buyback": 1.5, "repurchase": 1.0, "approval": 1.5, "approves": 1.5,
    "approved": 1.5, "wins": 1.5, "win": 1.0, "strong": 1.0, "stronger": 1.0,
    "outperform": 1.5, "outperforms": 1.5, "profit": 1.0, "profitable": 1.0,
    "growth": 1.0, "bullish": 2.0, "boost": 1.0, "boosts": 1.0, "expands": 1.0,
    "breakthrough": 1.5, "optimistic": 1.0, "upbeat": 1.5, "accelerates": 1.0,
}  # fmt: skip
NEGATIVE_WORDS: dict[str, float] = {
    "miss": -2.0, "misses": -2.0, "missed": -2.0, "downgrade": -2.0, "downgrades": -2.0,
    "downgraded": -2.0, "probe": -1.5, "investigation": -1.5, "lawsuit": -1.5,
    "sues": -1.5, "sued": -1.5, "cut": -1.5, "cuts": -1.5, "slash": -1.5, "slashes": -1.5,
    "plunge": -2.0, "plunges": -2.0, "slide": -1.5, "slides": -1.5, "fall": -1.0,
    "falls": -1.0, "drop": -1.0, "drops": -1.0, "sink": -1.5, "sinks": -1.5,
    "tumble": -2.0, "tumbles": -2.0, "weak": -1.5, "weaker": -1.5, "layoffs": -1.5,
    "recall": -1.5, "recalls": -1.5, "loss": -1.5, "losses": -1.5, "bearish": -2.0,
    "fraud": -2.5, "bankruptcy": -3.0, "warns": -1.5, "warning": -1.0, "concerns": -1.0,
    "fined": -1.5, "delay": -1.0, "delays": -1.0, "delayed": -1.0, "underperform": -1.5,
    "underperforms": -1.5, "halted": -1.5, "default": -2.0, "resigns": -1.0,
    "decline": -1.0, "declines": -1.0, "disappointing": -1.5, "disappoints": -1.5,
    "shortfall": -1.5, "breach": -1.5, "scandal": -2.0, "subpoena": -1.5,
}  # fmt: skip
# Multi-word phrases are matched first and their words are not scored again.
PHRASES: dict[tuple[str, ...], float] = {
    ("raises", "guidance"): 2.0,
    ("raises", "outlook"): 2.0,
    ("raises", "dividend"): 1.5,
    ("price", "target", "raised"): 1.5,
    ("lifts", "price", "target"): 1.5,
    ("above", "expectations"): 2.0,
    ("all", "time", "high"): 1.5,
    ("cuts", "guidance"): -2.0,
    ("cuts", "outlook"): -2.0,
    ("lowers", "guidance"): -2.0,
    ("lowers", "outlook"): -2.0,
    ("below", "expectations"): -2.0,
    ("falls", "short"): -2.0,
    ("short", "seller"): -1.5,
    ("price", "target", "cut"): -1.5,
    ("in", "line"): 0.0,
}
# A negator flips the next sentiment word within this many tokens, at reduced strength:
# "not profitable" is bad news, but milder than "loss".
NEGATORS = frozenset(
    {"not", "no", "never", "without", "fails", "failed", "fail", "isn't", "wasn't", "won't",
     "doesn't", "didn't", "cannot", "can't", "unable", "lacks"}
)  # fmt: skip
# "fails to ..." is bad news even when nothing scorable follows it.
_NEGATORS_WITH_WEIGHT = {"fails": -1.5, "failed": -1.5, "fail": -1.0, "unable": -1.0}
_NEGATION_WINDOW = 3
_NEGATION_FACTOR = -0.7
_SCALE = 3.0
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")
_LONGEST_PHRASE = max(len(phrase) for phrase in PHRASES)


def score_headline_sentiment(text: str) -> float:
    """A score in [-1, 1] from keyword rules: > 0 bullish, < 0 bearish, 0 neutral or unknown.

    Words and phrases carry weights; a negator ("not", "no", "fails to", ...) within three
    tokens before a sentiment word flips it at 70 % strength. The weighted sum is squashed with
    tanh(sum / 3), so one strong word gives about +-0.6 and several agreeing words approach 1.
    """
    tokens = _TOKEN.findall((text or "").lower().replace("\u2019", "'"))
    total = 0.0
    negation_left = 0
    pending = 0.0  # weight of a "fails"-type negator that has not yet flipped anything
    position = 0
    while position < len(tokens):
        weight, length = _match(tokens, position)
        token = tokens[position]
        if length == 0 and token in NEGATORS:
            total += pending
            negation_left = _NEGATION_WINDOW
            pending = _NEGATORS_WITH_WEIGHT.get(token, 0.0)
            position += 1
            continue
        if length:
            if negation_left and weight:
                total += weight * _NEGATION_FACTOR
                pending = 0.0
                negation_left = 0
            else:
                total += weight
            position += length
        else:
            position += 1
        if negation_left:
            negation_left -= 1
            if not negation_left:
                total += pending
                pending = 0.0
    total += pending
    return round(max(-1.0, min(1.0, math.tanh(total / _SCALE))), 4)


def _match(tokens: list[str], position: int) -> tuple[float, int]:
    """The weight and length of the phrase or word at `position` ((0, 0) when none)."""
    for length in range(min(_LONGEST_PHRASE, len(tokens) - position), 1, -1):
        phrase = tuple(tokens[position : position + length])
        if phrase in PHRASES:
            return PHRASES[phrase], length
    token = tokens[position]
    if token in POSITIVE_WORDS:
        return POSITIVE_WORDS[token], 1
    if token in NEGATIVE_WORDS:
        return NEGATIVE_WORDS[token], 1
    return 0.0, 0


# -- synthetic headlines -----------------------------------------------------------------------

# (headline, summary, tag). {company}, {symbol}, {pct}, {amount}, {firm}, {topic} are filled in.
BULLISH = (
    ("{company} beats earnings estimates as revenue climbs {pct}%",
     "Quarterly results topped analyst forecasts on both lines.", "earnings"),
    ("{company} raises guidance for the full year",
     "Management pointed to resilient demand across its main segments.", "guidance"),
    ("{company} announces ${amount} billion share buyback",
     "The board authorised the repurchase programme on top of the existing one.", "capital"),
    ("{firm} upgrades {company} to buy and lifts price target",
     "The analyst expects margins to expand over the next year.", "analyst"),
    ("{company} shares surge after record quarterly sales",
     "Volume ran well above average as buyers stepped in.", "earnings"),
    ("{company} wins multi-year contract worth ${amount} billion",
     "The agreement adds to the company's order backlog.", "corporate"),
    ("{company} receives regulatory approval for new product",
     "The approval clears the way for a launch this quarter.", "regulation"),
    ("{company} raises dividend by {pct}%",
     "The increase marks another year of higher payouts.", "capital"),
)  # fmt: skip
BEARISH = (
    ("{company} misses earnings estimates, shares slide",
     "Revenue and profit came in under what analysts expected.", "earnings"),
    ("{company} downgraded to sell at {firm}",
     "The analyst cited slowing growth and rich valuation.", "analyst"),
    ("{company} faces probe over {topic}",
     "Regulators have requested documents from the company.", "regulation"),
    ("{company} cuts outlook, citing weak demand",
     "The company now expects lower sales for the rest of the year.", "guidance"),
    ("{company} announces layoffs amid slowing growth",
     "The cuts affect about {pct}% of the workforce.", "corporate"),
    ("{company} hit with lawsuit over {topic}",
     "The complaint seeks damages and changes to business practices.", "legal"),
    ("{company} fails to meet delivery targets",
     "Supply problems held back shipments in the quarter.", "operations"),
    ("{company} shares tumble after chief executive resigns",
     "The board has begun a search for a successor.", "management"),
)  # fmt: skip
NEUTRAL = (
    ("{company} to present at {conference} conference",
     "Executives are scheduled to speak on {weekday}.", "events"),
    ("{company} schedules quarterly results call for {weekday}",
     "The company will publish its results before the call.", "earnings"),
    ("{company} names new chief financial officer",
     "The appointment takes effect next month.", "management"),
    ("{company} shares trade flat ahead of Fed decision",
     "Traders are waiting for the central bank's statement.", "markets"),
    ("What to watch in {company} stock this week",
     "A look at the dates and numbers on the calendar for {symbol}.", "markets"),
    ("{company} holds annual shareholder meeting",
     "Shareholders vote on the board and on proposals.", "corporate"),
)  # fmt: skip
_SOURCES = ("Market Wire", "Street Ledger", "Ticker Times", "Capital Desk", "Trading Post")
_FIRMS = ("Northbridge Securities", "Harbor Capital", "Summit Research", "Ridgeview Partners")
_TOPICS = ("accounting practices", "data privacy", "pricing", "safety disclosures", "competition")
_CONFERENCES = ("Global Technology", "Healthcare Investor", "Consumer Growth", "Industrials")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_SLUG = re.compile(r"[^a-z0-9]+")


class SyntheticNews(NewsProvider):
    """Deterministic plausible headlines per symbol and day: bullish, bearish and neutral.

    A symbol gets 0-3 headlines on a weekday (fewer at weekends) between 06:00 and 20:00
    New York time; the same (seed, symbol, day) always gives the same headlines.
    """

    name = "synthetic"

    def __init__(self, seed: int = 42):
        self.seed = int(seed)

    def __repr__(self) -> str:
        return f"SyntheticNews(seed={self.seed})"

    def headlines(self, symbols: list[str], *, since: datetime, until: datetime) -> list[Headline]:
        if since.tzinfo is None or until.tzinfo is None:
            raise ValueError("since and until must be timezone-aware")
        wanted = list(dict.fromkeys(s for s in symbols if is_plain_ticker(s)))
        first = since.astimezone(NEW_YORK).date()
        last = until.astimezone(NEW_YORK).date()
        result: list[Headline] = []
        day = first
        while day <= last:
            for symbol in wanted:
                for headline in self.for_day(symbol, day):
                    if since <= headline.published_at < until:
                        result.append(headline)
            day += timedelta(days=1)
        result.sort(key=lambda h: (h.published_at, h.symbol))
        return result

    def for_day(self, symbol: str, day: date) -> list[Headline]:
        """All of one symbol's headlines on one New York calendar day, in time order."""
        u = uniform(64, self.seed, symbol, day.isoformat(), "news")
        weekend = day.weekday() >= 5
        count = int(u[0] < (0.25 if weekend else 0.7)) + int(u[1] < (0.1 if weekend else 0.35))
        count += int(not weekend and u[2] < 0.1)
        headlines = []
        for n in range(count):
            draws = u[4 + n * 12 : 16 + n * 12]
            headlines.append(self._headline(symbol, day, n, draws))
        headlines.sort(key=lambda h: h.published_at)
        return headlines

    def _headline(self, symbol: str, day: date, number: int, u) -> Headline:
        tone = BULLISH if u[0] < 0.35 else BEARISH if u[0] < 0.65 else NEUTRAL
        template, summary, tag = tone[int(u[1] * len(tone))]
        fields = {
            "company": company_name(symbol),
            "symbol": symbol,
            "pct": 2 + int(u[2] * 23),
            "amount": 1 + int(u[3] * 20),
            "firm": _FIRMS[int(u[4] * len(_FIRMS))],
            "topic": _TOPICS[int(u[5] * len(_TOPICS))],
            "conference": _CONFERENCES[int(u[6] * len(_CONFERENCES))],
            "weekday": _WEEKDAYS[int(u[7] * len(_WEEKDAYS))],
        }
        text = template.format(**fields)
        minute = 6 * 60 + int(u[8] * 14 * 60)  # 06:00-20:00 New York
        local = datetime.combine(day, time(minute // 60, minute % 60), NEW_YORK)
        slug = _SLUG.sub("-", text.lower()).strip("-")[:60]
        return Headline(
            symbol=symbol,
            headline=text,
            summary=summary.format(**fields),
            source=_SOURCES[int(u[9] * len(_SOURCES))],
            url=f"https://news.example.com/{symbol.lower()}/{day.isoformat()}/{slug}-{number}",
            published_at=local.astimezone(UTC),
            tags=(tag,),
        )
