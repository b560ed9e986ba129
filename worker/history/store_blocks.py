"""Blocks: how both bar stores hold bars. One block is the bars of one written span piece as a JSON array, so a read
passes the blocks it needs whole through as bytes and decodes only the edge blocks (and the one `limit` cuts).

Also the in-memory state per series both stores keep (coverage, bytes, last use, and blocks held in memory) and the
choice of what to evict (the series used longest ago first).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from worker.history.coverage import Coverage, Span
from worker.history.store import Bar, StoredBars

MAX_BLOCK_BARS = 5000  # a longer piece is cut into blocks of this many: a read with a limit decodes one at most
BLOCK_OVERHEAD = 96  # bytes a block costs beside its JSON (its row, its index entry): the size estimate's part


@dataclass(frozen=True)
class Block:
    """The bars (oldest first, every start time in [start, end)) of one stored span piece; `payload` is their JSON
    array. A block with no bars is coverage too (a holiday, before the first date, 162 "no data")."""

    start: int
    end: int
    count: int
    first: int | None  # the first bar's start time
    last: int | None
    payload: bytes

    @property
    def size(self) -> int:
        return len(self.payload) + BLOCK_OVERHEAD

    def bars(self) -> list[Bar]:
        bars: list[Bar] = orjson.loads(self.payload)
        return bars


def make_block(span: Span, bars: list[Bar]) -> Block:
    return Block(span.start, span.end, len(bars), bars[0]["time"] if bars else None,
                 bars[-1]["time"] if bars else None, orjson.dumps(bars))


def pieces_to_blocks(pieces: Iterable[Span], bars: list[Bar]) -> list[Block]:
    """The blocks for the `pieces` (disjoint, oldest first) of a write: each piece's bars, long ones cut in blocks
    of MAX_BLOCK_BARS whose spans meet at the first bar of the next."""
    times = [bar["time"] for bar in bars]
    blocks: list[Block] = []
    for piece in pieces:
        lo, hi = bisect.bisect_left(times, piece.start), bisect.bisect_left(times, piece.end)
        start = piece.start
        while hi - lo > MAX_BLOCK_BARS:
            cut = lo + MAX_BLOCK_BARS
            blocks.append(make_block(Span(start, times[cut]), bars[lo:cut]))
            start, lo = times[cut], cut
        blocks.append(make_block(Span(start, piece.end), bars[lo:hi]))
    return blocks


def check_bars(covered: Span, bars: list[Bar]) -> None:
    """A write's bars must be oldest first, each once, all inside the span they are said to cover."""
    last = None
    for bar in bars:
        t = bar["time"]
        if not isinstance(t, int) or not covered.start <= t < covered.end or (last is not None and t <= last):
            raise ValueError(f"bar time {t!r} out of order or outside {covered}")
        last = t


def assemble(blocks: Iterable[Block], span: Span, limit: int | None) -> StoredBars:
    """The bars of `blocks` (disjoint, oldest first, all overlapping `span`) whose start is in `span`, at most
    `limit`: blocks inside the span go through as bytes; only the edge blocks and the one `limit` cuts are decoded."""
    parts: list[bytes] = []
    count = 0
    first: int | None = None
    last: int | None = None
    next_time: int | None = None
    for block in blocks:
        if not block.count:
            continue
        inside = span.start <= block.first <= block.last < span.end  # type: ignore[operator]
        if limit is not None and count >= limit:  # only the next bar's time is wanted now
            if inside:
                next_time = block.first
            else:
                later = [b["time"] for b in block.bars() if span.start <= b["time"] < span.end]
                next_time = later[0] if later else None
            if next_time is not None:
                break
            continue
        room = None if limit is None else limit - count
        if inside and (room is None or block.count <= room):
            parts.append(block.payload[1:-1])
            count += block.count
            first = block.first if first is None else first
            last = block.last
            continue
        kept = [b for b in block.bars() if span.start <= b["time"] < span.end]
        if room is not None and len(kept) > room:
            next_time = kept[room]["time"]
            kept = kept[:room]
        if kept:
            parts.append(orjson.dumps(kept)[1:-1])
            count += len(kept)
            first = kept[0]["time"] if first is None else first
            last = kept[-1]["time"]
        if next_time is not None:
            break
    return StoredBars(b"[" + b",".join(parts) + b"]", count, first, last, next_time)


@dataclass
class SeriesState:
    """What a store keeps in memory for one series: its coverage, its size, when it was used, and the blocks it holds
    in memory (all of them in the memory store; those not yet on disk in the SQLite store), sorted by start."""

    coverage: Coverage = field(default_factory=Coverage)
    size: int = 0  # bytes of its blocks (payload + overhead), in memory or on disk
    last_used: float = 0.0
    starts: list[int] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    def hold(self, block: Block) -> None:
        i = bisect.bisect_left(self.starts, block.start)
        self.starts.insert(i, block.start)
        self.blocks.insert(i, block)

    def overlapping(self, span: Span) -> Iterator[Block]:
        """The held blocks that overlap `span`, oldest first (blocks never overlap each other)."""
        i = max(0, bisect.bisect_right(self.starts, span.start) - 1)
        while i < len(self.blocks) and self.blocks[i].start < span.end:
            if self.blocks[i].end > span.start:
                yield self.blocks[i]
            i += 1


def eviction_order(series: dict[object, SeriesState]) -> list[object]:
    """Series keys, used longest ago first."""
    return sorted(series, key=lambda k: series[k].last_used)
