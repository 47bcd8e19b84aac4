"""News trigger: keeps symbols with recent headlines matching keywords and sentiment, else waits."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

from agents.base import AgentMetadata, BaseAgent
from agents.builtin.common import (
    check_interval_property,
    engine_properties,
    no_symbols,
    rules_engine_fallback,
    trigger_met,
    waiting_reason,
)
from agents.context import AgentContext
from agents.errors import AgentError, TriggerNotMet
from agents.llm.config import llm_available
from agents.registry import register
from agents.state import PipelineState
from trading.marketdata.base import Headline, MarketDataError
from trading.marketdata.news import score_headline_sentiment

# At most this many matching headlines per symbol are kept in the trigger's details.
MAX_HEADLINES_IN_DETAILS = 10


@register
class NewsTrigger(BaseAgent):
    metadata = AgentMetadata(
        agent_type="news_trigger",
        name="News Trigger",
        description=(
            "Starts the pipeline when recent headlines about a symbol match your keywords and "
            "sentiment. Symbols with matching news go on; when none has any, the run waits."
        ),
        category="trigger",
        icon="newspaper",
        pricing_rate=Decimal("0.05"),
        is_free=False,
        engines=["rules", "llm"],
        config_schema={
            "type": "object",
            "title": "News trigger",
            "description": "Headlines that start the pipeline.",
            "properties": {
                "lookback_minutes": {
                    "type": "integer",
                    "title": "Look back (minutes)",
                    "description": "How far back headlines count.",
                    "minimum": 1,
                    "maximum": 10080,
                    "default": 240,
                },
                "keywords": {
                    "type": "array",
                    "title": "Keywords",
                    "description": "Words or phrases to look for (case-insensitive); empty = any.",
                    "items": {"type": "string", "minLength": 1, "maxLength": 80},
                    "uniqueItems": True,
                    "maxItems": 50,
                    "default": [],
                },
                "keyword_match": {
                    "type": "string",
                    "title": "Keyword match",
                    "description": "any: one keyword is enough; all: every keyword must appear.",
                    "enum": ["any", "all"],
                    "default": "any",
                },
                "direction": {
                    "type": "string",
                    "title": "Sentiment direction",
                    "description": "Which tone counts: positive, negative or either.",
                    "enum": ["positive", "negative", "either"],
                    "default": "either",
                },
                "min_sentiment": {
                    "type": "number",
                    "title": "Minimum sentiment strength",
                    "description": "0 to 1: how strongly positive or negative a headline reads.",
                    "minimum": 0,
                    "maximum": 1,
                    "default": 0.0,
                },
                "min_headlines": {
                    "type": "integer",
                    "title": "Minimum matching headlines",
                    "description": "Headlines a symbol needs to qualify.",
                    "minimum": 1,
                    "maximum": 50,
                    "default": 1,
                },
                "check_interval_seconds": check_interval_property(300, zero_means="one minute"),
                **engine_properties("scores headlines"),
            },
            "required": [],
            "additionalProperties": False,
        },
    )

    def process(self, state: PipelineState, ctx: AgentContext) -> PipelineState:
        if no_symbols(state):
            return state
        now = ctx.clock.now().astimezone(UTC)
        since = now - timedelta(minutes=self.config["lookback_minutes"])
        try:
            headlines = ctx.news.headlines(list(state.symbols), since=since, until=now)
        except MarketDataError as error:
            raise AgentError(f"News trigger: the news provider failed: {error}") from None
        matches: dict[str, list[dict[str, Any]]] = {symbol: [] for symbol in state.symbols}
        candidates = sorted(
            (
                (headline, found)
                for headline in headlines
                if headline.symbol in matches
                and since <= headline.published_at <= now
                and (found := self._keywords_found(headline)) is not None
            ),
            key=lambda item: (item[0].symbol, item[0].published_at, item[0].headline),
        )
        scored, sentiment_engine, llm_note = self._sentiments(candidates, ctx)
        for (headline, found), (sentiment, confidence) in zip(candidates, scored, strict=True):
            match = self._match(headline, found, sentiment, confidence)
            if match is not None:
                matches[headline.symbol].append(match)
        needed = self.config["min_headlines"]
        kept = [symbol for symbol in state.symbols if len(matches[symbol]) >= needed]
        details: dict[str, Any] = {
            "since": since.isoformat(),
            "headlines_checked": len(headlines),
            "sentiment_engine": sentiment_engine,
            "symbols": {
                symbol: {
                    "met": symbol in kept,
                    "matching": len(found),
                    "headlines": sorted(found, key=lambda m: m["published_at"], reverse=True)[
                        :MAX_HEADLINES_IN_DETAILS
                    ],
                }
                for symbol, found in matches.items()
            },
        }
        description = self._describe()
        if not kept:
            interval = self.config["check_interval_seconds"] or 60
            next_check_at = now + timedelta(seconds=interval)
            raise TriggerNotMet(
                waiting_reason(state.symbols, description, next_check_at),
                next_check_at=next_check_at,
                details=details,
            )
        # Only now that the trigger holds may the state change (it is saved while a run waits).
        if self.config["engine"] == "llm" and not llm_available(ctx):
            rules_engine_fallback(state, ctx, self.agent_id, self.metadata.name)
        if llm_note:
            state.add_warning(self.agent_id, llm_note)
        return trigger_met(self, state, kept=kept, condition=description, details=details, now=now)

    def candidates(self, headlines: list[Headline]) -> list[tuple[Headline, list[str]]]:
        """The headlines with the keywords asked for (before any sentiment is scored)."""
        return [(h, found) for h in headlines if (found := self._keywords_found(h)) is not None]

    def asks_model(self) -> bool:
        """Whether the LLM engine would be asked: only when the sentiment decides."""
        return self.config["engine"] == "llm" and self._sentiment_matters()

    def matching_headlines(self, headlines: list[Headline], *, client=None) -> list[Headline]:
        """The headlines that count toward the trigger (a backtest's replay). The rules score
        the sentiment; with `client` (an LLMClient, budgeted and on the replay cache) and the
        LLM engine, the news crew scores it as in a live run."""
        candidates = self.candidates(headlines)
        if client is not None and candidates and self.asks_model():
            from agents.llm.config import llm_settings
            from agents.llm.crews import headline_sentiments

            model = llm_settings().model_for("news", self.config.get("model", ""))
            texts = [f"{headline.symbol}: {headline.headline}" for headline, _ in candidates]
            scored = [
                (s.sentiment, s.confidence) for s in headline_sentiments(client, texts, model=model)
            ]
        else:
            scored = [
                (score_headline_sentiment(f"{headline.headline} {headline.summary}"), None)
                for headline, _ in candidates
            ]
        return [
            headline
            for (headline, found), (sentiment, confidence) in zip(candidates, scored, strict=True)
            if self._match(headline, found, sentiment, confidence) is not None
        ]

    def _describe(self) -> str:
        config = self.config
        parts = []
        if config["keywords"]:
            joiner = " and " if config["keyword_match"] == "all" else " or "
            parts.append(joiner.join(repr(k) for k in config["keywords"]))
        if config["direction"] != "either" or config["min_sentiment"] > 0:
            tone = (
                "positive or negative" if config["direction"] == "either" else config["direction"]
            )
            strength = f" (≥ {config['min_sentiment']:g})" if config["min_sentiment"] > 0 else ""
            parts.append(f"{tone} sentiment{strength}")
        what = " with ".join(parts) if parts else "any"
        return (
            f"{config['min_headlines']}+ {what} headline"
            f"{'s' if config['min_headlines'] > 1 else ''} in the last "
            f"{config['lookback_minutes']} min"
        )

    def _keywords_found(self, headline: Headline) -> list[str] | None:
        """The configured keywords in the headline, or None when it does not qualify."""
        config = self.config
        lowered = f"{headline.headline} {headline.summary}".lower()
        # Whole words only, so the keyword "AI" does not match "said".
        found = [
            keyword
            for keyword in config["keywords"]
            if re.search(rf"(?<!\w){re.escape(keyword.lower())}(?!\w)", lowered)
        ]
        if config["keywords"]:
            wanted = len(config["keywords"]) if config["keyword_match"] == "all" else 1
            if len(found) < wanted:
                return None
        return found

    def _sentiment_matters(self) -> bool:
        return self.config["direction"] != "either" or self.config["min_sentiment"] > 0

    def _sentiments(
        self, candidates: list[tuple[Headline, list[str]]], ctx: AgentContext
    ) -> tuple[list[tuple[float, float | None]], str, str]:
        """(sentiment, confidence) per candidate headline, the engine that scored them, and a
        warning for the trader when the model failed and the rules scored them instead.

        The model is asked only when the sentiment decides (a direction or a minimum strength
        is set) and there is something to score: a check that finds nothing costs nothing."""
        rules = [
            (score_headline_sentiment(f"{headline.headline} {headline.summary}"), None)
            for headline, _ in candidates
        ]
        wants_llm = self.config["engine"] == "llm" and llm_available(ctx)
        if not (wants_llm and candidates and self._sentiment_matters()):
            return rules, "rules", ""
        # Imported here: the LLM engine loads only for steps that use it.
        from agents.llm.client import LLMAnswerRejected, LLMUnavailable, llm_client_for
        from agents.llm.config import llm_settings
        from agents.llm.crews import headline_sentiments

        model = llm_settings().model_for("news", self.config.get("model", ""))
        texts = [f"{headline.symbol}: {headline.headline}" for headline, _ in candidates]
        try:
            scored = headline_sentiments(
                llm_client_for(ctx, agent_id=self.agent_id), texts, model=model
            )
        except (LLMAnswerRejected, LLMUnavailable) as error:
            if not self.config.get("fallback_to_rules", False):
                raise
            note = f"{self.metadata.name}: {error} So the rules engine was used instead."
            return rules, "rules", note
        return [(score.sentiment, score.confidence) for score in scored], "llm", ""

    def _match(
        self, headline: Headline, found: list[str], sentiment: float, confidence: float | None
    ) -> dict[str, Any] | None:
        config = self.config
        threshold = config["min_sentiment"]
        direction = config["direction"]
        if direction == "positive" and not (sentiment > 0 and sentiment >= threshold):
            return None
        if direction == "negative" and not (sentiment < 0 and -sentiment >= threshold):
            return None
        if direction == "either" and abs(sentiment) < threshold:
            return None
        match = {
            "headline": headline.headline,
            "source": headline.source,
            "url": headline.url,
            "published_at": headline.published_at.isoformat(),
            "sentiment": round(sentiment, 3),
            "matched_keywords": found,
        }
        if confidence is not None:
            match["confidence"] = round(confidence, 3)
        return match

    def summarize(self, state: PipelineState) -> str:
        trigger = state.trigger
        if trigger is None or trigger.agent_id != self.agent_id:
            return "No symbols left to check"
        counts = ", ".join(
            f"{symbol} ({trigger.details['symbols'][symbol]['matching']})"
            for symbol in trigger.details.get("kept", [])
        )
        return f"Met for {counts}: {trigger.condition}"
