"""The dispatcher's in-memory index: signal type → ticker → pipelines ordered by min confidence.

Matching a signal costs, per ticker, two dict lookups and one binary search: the pipelines whose
minimum confidence is at most the signal's are a prefix of the bucket, so nothing is scanned that
does not match. A bucket is two parallel lists (thresholds, pipeline ids) of references to shared
objects, 16 bytes an entry, so 100,000 pipelines × several tickers × subscriptions fit in a few
tens of megabytes. The index is owned by one thread (the dispatcher loop); a full
rebuild makes a new index and swaps it in.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any


@dataclass(frozen=True, slots=True)
class PipelineRow:
    """What the index needs of one active, signal-driven pipeline."""

    pipeline_id: str
    owner_id: int
    scanner_id: int | None
    tickers: tuple[str, ...]
    subscriptions: tuple[tuple[str, float], ...]  # (signal_type, min_confidence)


def pipeline_row(
    *,
    pipeline_id: Any,
    owner_id: int,
    scanner_id: int | None,
    tickers: Iterable[Any],
    subscriptions: Any,
    allowed_types: frozenset[str] | None = None,
) -> PipelineRow | None:
    """A row from stored values, or None when the pipeline cannot match anything. Subscriptions
    are re-checked here because rows may have been written by paths that did not validate them;
    types outside `allowed_types` (the owner's tier) are dropped."""
    minimums: dict[str, float] = {}
    for entry in subscriptions if isinstance(subscriptions, list) else []:
        if not isinstance(entry, dict):
            continue
        signal_type = str(entry.get("signal_type") or "").strip().lower()
        try:
            minimum = float(entry.get("min_confidence") or 0)
        except (TypeError, ValueError):
            continue
        if not signal_type or not 0 <= minimum <= 100:
            continue
        if allowed_types is not None and signal_type not in allowed_types:
            continue
        minimums[signal_type] = min(minimum, minimums.get(signal_type, minimum))
    symbols = tuple(dict.fromkeys(str(t).strip().upper() for t in tickers or () if str(t).strip()))
    if not minimums or not symbols:
        return None
    return PipelineRow(
        pipeline_id=str(pipeline_id),
        owner_id=int(owner_id),
        scanner_id=scanner_id,
        tickers=symbols,
        subscriptions=tuple(minimums.items()),
    )


class SignalIndex:
    __slots__ = ("_buckets", "_by_scanner", "_floats", "_rows")

    def __init__(self) -> None:
        # signal_type → ticker → (ascending thresholds, pipeline ids in the same order). The
        # lists hold references to one shared float per threshold value and to the one string
        # per pipeline id, so an entry costs two pointers.
        self._buckets: dict[str, dict[str, tuple[list[float], list[str]]]] = {}
        self._rows: dict[str, PipelineRow] = {}
        self._by_scanner: dict[int, set[str]] = {}
        self._floats: dict[float, float] = {}

    @classmethod
    def build(cls, rows: Iterable[PipelineRow]) -> SignalIndex:
        index = cls()
        buckets = index._buckets
        intern = index._floats.setdefault
        for row in rows:
            if row.pipeline_id in index._rows:
                continue  # a row listed twice keeps its first occurrence
            index._remember(row)
            pipeline_id = row.pipeline_id
            for signal_type, minimum in row.subscriptions:
                by_ticker = buckets.get(signal_type)
                if by_ticker is None:
                    by_ticker = buckets[signal_type] = {}
                minimum = intern(minimum, minimum)
                for ticker in row.tickers:
                    bucket = by_ticker.get(ticker)
                    if bucket is None:
                        by_ticker[ticker] = ([minimum], [pipeline_id])
                    else:
                        bucket[0].append(minimum)
                        bucket[1].append(pipeline_id)
        # Appended in row order; sort each bucket once (a stable sort keeps row order on ties).
        for by_ticker in buckets.values():
            for ticker, (thresholds, ids) in by_ticker.items():
                if any(a > b for a, b in pairwise(thresholds)):
                    pairs = sorted(zip(thresholds, ids, strict=True), key=lambda pair: pair[0])
                    by_ticker[ticker] = ([t for t, _ in pairs], [i for _, i in pairs])
        return index

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, pipeline_id: object) -> bool:
        return pipeline_id in self._rows

    @property
    def entry_count(self) -> int:
        """(pipeline, ticker, signal type) entries held."""
        return sum(len(ids) for t in self._buckets.values() for _, ids in t.values())

    def row(self, pipeline_id: str) -> PipelineRow | None:
        return self._rows.get(pipeline_id)

    def pipelines_for_scanner(self, scanner_id: int) -> list[str]:
        return list(self._by_scanner.get(scanner_id, ()))

    def match(
        self,
        signal_type: str,
        tickers: Sequence[tuple[str, float]],
        owner_id: int | None = None,
    ) -> dict[str, Sequence[str]]:
        """Pipeline id → the signal's tickers it matched, for pipelines subscribed to
        `signal_type` at a minimum confidence ≤ the ticker's, whose tickers include it.
        With `owner_id` only that owner's pipelines match (a user's webhook signal)."""
        by_ticker = self._buckets.get(signal_type)
        if by_ticker is None:
            return {}
        if owner_id is None and len(tickers) == 1:
            # The common case, one ticker from a market generator: the matches are a prefix of
            # the bucket, and every one of them matched on the same (immutable, shared) ticker.
            ticker, confidence = tickers[0]
            bucket = by_ticker.get(ticker)
            if bucket is None:
                return {}
            thresholds, ids = bucket
            return dict.fromkeys(ids[: bisect_right(thresholds, confidence)], (ticker,))
        matched: dict[str, list[str]] = {}
        rows = self._rows
        for ticker, confidence in tickers:
            bucket = by_ticker.get(ticker)
            if bucket is None:
                continue
            thresholds, ids = bucket
            for pipeline_id in ids[: bisect_right(thresholds, confidence)]:
                if owner_id is not None and rows[pipeline_id].owner_id != owner_id:
                    continue
                found = matched.get(pipeline_id)
                if found is None:
                    matched[pipeline_id] = [ticker]
                else:
                    found.append(ticker)
        return matched

    def upsert(self, row: PipelineRow) -> None:
        self.remove(row.pipeline_id)
        self._remember(row)
        pipeline_id = row.pipeline_id
        intern = self._floats.setdefault
        for signal_type, minimum in row.subscriptions:
            by_ticker = self._buckets.setdefault(signal_type, {})
            minimum = intern(minimum, minimum)
            for ticker in row.tickers:
                bucket = by_ticker.get(ticker)
                if bucket is None:
                    by_ticker[ticker] = ([minimum], [pipeline_id])
                    continue
                thresholds, ids = bucket
                position = bisect_right(thresholds, minimum)
                thresholds.insert(position, minimum)
                ids.insert(position, pipeline_id)

    def remove(self, pipeline_id: str) -> bool:
        row = self._rows.pop(pipeline_id, None)
        if row is None:
            return False
        for signal_type, _ in row.subscriptions:
            by_ticker = self._buckets[signal_type]
            for ticker in row.tickers:
                thresholds, ids = by_ticker[ticker]
                position = ids.index(pipeline_id)
                del thresholds[position]
                del ids[position]
                if not ids:
                    del by_ticker[ticker]
            if not by_ticker:
                del self._buckets[signal_type]
        if row.scanner_id is not None:
            members = self._by_scanner.get(row.scanner_id)
            if members is not None:
                members.discard(pipeline_id)
                if not members:
                    del self._by_scanner[row.scanner_id]
        return True

    def _remember(self, row: PipelineRow) -> None:
        self._rows[row.pipeline_id] = row
        if row.scanner_id is not None:
            self._by_scanner.setdefault(row.scanner_id, set()).add(row.pipeline_id)
