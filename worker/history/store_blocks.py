"""Blocks: how both bar stores hold bars. One block is the bars of a span as a JSON array, so a read passes the
blocks it needs whole through as bytes and decodes only the edge blocks (and the one `limit` cuts).

A written piece that starts exactly where the series' latest block ends joins that block while the two stay within
MAX_JOINED_BARS (the desk writes the tail of a request ending now after each TTL: one or two bars a poll, which would
otherwise be one block each, without bound). The arrays are joined as bytes, never decoded.

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
# tail pieces join the latest block up to this many bars: each join rewrites the block, so a 1-sec series polled every
# second rewrites at most ~140 KB a second (at 5,000 it would be ~720 KB), for ~24 rows per session instead of 23,400
MAX_JOINED_BARS = 1000
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
    # the SQLite store only: the start of the stored block this piece is appended to. The owner holds such a piece
    # (alone) until the writer has merged it into that block on disk.
    joins: int | None = None

    @property
    def size(self) -> int:
        return len(self.payload) + BLOCK_OVERHEAD

    def bars(self) -> list[Bar]:
        bars: list[Bar] = orjson.loads(self.payload)
        return bars


def make_block(span: Span, bars: list[Bar]) -> Block:
    return Block(span.start, span.end, len(bars), bars[0]["time"] if bars else None,
                 bars[-1]["time"] if bars else None, orjson.dumps(bars))


@dataclass(frozen=True)
class TailBlock:
    """A series' latest block (by start) without its bars: what a store needs to decide that a write joins it."""

    start: int
    end: int
    count: int
    size: int  # payload + BLOCK_OVERHEAD, as Block.size

    def takes(self, block: Block) -> bool:
        """`block` starts where this one ends (no gap) and the two stay within MAX_JOINED_BARS."""
        return block.start == self.end and self.count + block.count <= MAX_JOINED_BARS

    def joined(self, block: Block) -> TailBlock:
        payload = joined_length(self.size - BLOCK_OVERHEAD, self.count, len(block.payload), block.count)
        return TailBlock(self.start, block.end, self.count + block.count, payload + BLOCK_OVERHEAD)


def tail_of(block: Block) -> TailBlock:
    return TailBlock(block.start, block.end, block.count, block.size)


def join_payloads(payloads: Iterable[bytes]) -> bytes:
    """JSON arrays of bars (oldest first, each after the one before) as one array: joined as bytes, not decoded."""
    return b"[" + b",".join(p[1:-1] for p in payloads if p != b"[]") + b"]"


def joined_length(length: int, count: int, other_length: int, other_count: int) -> int:
    """The length of join_payloads of two arrays (an empty array is b"[]": it adds nothing)."""
    if not count:
        return other_length
    return length if not other_count else length + other_length - 1


def joined(block: Block, after: Block) -> Block:
    """`block` followed by `after` (which starts where it ends) as one block."""
    return Block(block.start, after.end, block.count + after.count,
                 block.first if block.first is not None else after.first,
                 after.last if after.last is not None else block.last,
                 join_payloads((block.payload, after.payload)), block.joins)


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

    def held_at(self, start: int) -> int | None:
        """The index of the held block starting at `start` (a whole block, not a piece joining one), or None."""
        i = bisect.bisect_left(self.starts, start)
        if i < len(self.starts) and self.starts[i] == start and self.blocks[i].joins is None:
            return i
        return None

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
