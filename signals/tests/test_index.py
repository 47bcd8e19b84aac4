"""The in-memory index: matching on ticker, signal type and minimum confidence; updates."""

from __future__ import annotations

import random
import uuid

from signals.index import PipelineRow, SignalIndex, pipeline_row


def _plain(matched) -> dict[str, list[str]]:
    return {pipeline_id: list(tickers) for pipeline_id, tickers in matched.items()}


def _row(tickers, subscriptions, *, owner_id=1, scanner_id=None, pipeline_id=None):
    return PipelineRow(
        pipeline_id=pipeline_id or str(uuid.uuid4()),
        owner_id=owner_id,
        scanner_id=scanner_id,
        tickers=tuple(tickers),
        subscriptions=tuple(subscriptions),
    )


def test_it_matches_on_ticker_type_and_minimum_confidence():
    at_80 = _row(["AAPL"], [("golden_cross", 80)])
    at_0 = _row(["MSFT", "AAPL"], [("golden_cross", 0), ("rsi_oversold", 50)])
    at_90 = _row(["AAPL"], [("golden_cross", 90)])
    other_ticker = _row(["TSLA"], [("golden_cross", 0)])
    other_type = _row(["AAPL"], [("volume_spike", 0)])
    index = SignalIndex.build([at_80, at_0, at_90, other_ticker, other_type])

    matched = _plain(index.match("golden_cross", [("AAPL", 85.5)]))

    assert matched == {at_80.pipeline_id: ["AAPL"], at_0.pipeline_id: ["AAPL"]}
    assert index.match("golden_cross", [("AAPL", 80)]).keys() == {
        at_80.pipeline_id,
        at_0.pipeline_id,
    }
    assert index.match("golden_cross", [("AAPL", 79.9)]).keys() == {at_0.pipeline_id}
    assert index.match("death_cross", [("AAPL", 100)]) == {}
    assert index.match("golden_cross", [("NVDA", 100)]) == {}


def test_a_pipeline_matched_on_several_tickers_is_listed_once_with_each():
    row = _row(["AAPL", "MSFT", "NVDA"], [("news_sentiment", 60)])
    index = SignalIndex.build([row])

    matched = _plain(index.match("news_sentiment", [("AAPL", 70), ("MSFT", 50), ("NVDA", 99)]))

    assert matched == {row.pipeline_id: ["AAPL", "NVDA"]}


def test_an_owners_signal_only_matches_their_pipelines():
    mine = _row(["AAPL"], [("webhook", 0)], owner_id=7)
    theirs = _row(["AAPL"], [("webhook", 0)], owner_id=8)
    index = SignalIndex.build([mine, theirs])

    assert _plain(index.match("webhook", [("AAPL", 100)], owner_id=7)) == {
        mine.pipeline_id: ["AAPL"]
    }
    assert len(index.match("webhook", [("AAPL", 100)])) == 2


def test_upsert_and_remove_keep_buckets_ordered():
    low = _row(["AAPL"], [("golden_cross", 10)])
    high = _row(["AAPL"], [("golden_cross", 90)])
    index = SignalIndex.build([low, high])
    middle = _row(["AAPL"], [("golden_cross", 50)], scanner_id=3)

    index.upsert(middle)
    assert index.match("golden_cross", [("AAPL", 60)]).keys() == {
        low.pipeline_id,
        middle.pipeline_id,
    }
    assert index.pipelines_for_scanner(3) == [middle.pipeline_id]

    # The same pipeline with new tickers and a new threshold replaces its old entries.
    index.upsert(_row(["MSFT"], [("golden_cross", 0)], pipeline_id=middle.pipeline_id))
    assert index.match("golden_cross", [("AAPL", 60)]).keys() == {low.pipeline_id}
    assert index.match("golden_cross", [("MSFT", 1)]).keys() == {middle.pipeline_id}
    assert index.pipelines_for_scanner(3) == []

    assert index.remove(low.pipeline_id) is True
    assert index.remove(low.pipeline_id) is False
    assert index.match("golden_cross", [("AAPL", 100)]).keys() == {high.pipeline_id}
    assert len(index) == 2
    assert index.entry_count == 2


def test_updates_leave_the_index_as_a_fresh_build_would():
    rng = random.Random(3)
    tickers = ["AAPL", "MSFT", "NVDA", "TSLA"]
    types = ["golden_cross", "rsi_oversold", "webhook"]

    def random_row(pipeline_id):
        return _row(
            rng.sample(tickers, rng.randint(1, 3)),
            [(t, float(rng.choice([0, 50, 80]))) for t in rng.sample(types, rng.randint(1, 2))],
            owner_id=rng.randint(1, 3),
            pipeline_id=pipeline_id,
        )

    ids = [str(uuid.uuid4()) for _ in range(30)]
    index = SignalIndex.build([random_row(i) for i in ids[:10]])
    for _ in range(300):
        pipeline_id = rng.choice(ids)
        if rng.random() < 0.3:
            index.remove(pipeline_id)
        else:
            index.upsert(random_row(pipeline_id))
    fresh = SignalIndex.build([index.row(i) for i in ids if i in index])

    for signal_type in types:
        for ticker in tickers:
            for confidence in (0, 49.9, 50, 79.9, 100):
                for owner_id in (None, 1, 2):
                    signal = [(ticker, confidence)]
                    assert _plain(index.match(signal_type, signal, owner_id)) == _plain(
                        fresh.match(signal_type, signal, owner_id)
                    )
    assert index.entry_count == fresh.entry_count


def test_pipeline_row_cleans_stored_values_and_drops_types_above_the_tier():
    row = pipeline_row(
        pipeline_id=uuid.UUID(int=1),
        owner_id=5,
        scanner_id=None,
        tickers=["aapl", "AAPL", " msft "],
        subscriptions=[
            {"signal_type": "golden_cross", "min_confidence": 80},
            {"signal_type": "golden_cross", "min_confidence": 60},
            {"signal_type": "news_sentiment", "min_confidence": 10},
            {"signal_type": "rsi_oversold", "min_confidence": 400},
            "junk",
        ],
        allowed_types=frozenset({"golden_cross", "rsi_oversold"}),
    )

    assert row.tickers == ("AAPL", "MSFT")
    assert row.subscriptions == (("golden_cross", 60.0),)
    assert (
        pipeline_row(pipeline_id=1, owner_id=1, scanner_id=None, tickers=[], subscriptions=[])
        is None
    )
