"""The examples README.md shows, read from its Markdown: curl commands with the answers shown for them, and JSON
request bodies. tests/docs/test_readme_examples.py runs them against the demo setup, so README stays true."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

FENCE_RE = re.compile(r"^```(\w*)\s*$")
COMMENTED_RE = re.compile(r"^(curl .*?)\s+#\s*(.*)$")
INLINE_BODY_RE = re.compile(r"`(\{\"symbol\".*?\})`")
# A stream never ends by itself and answers with events, not JSON: its curl is not run with the others (they are
# parsed as JSON once curl exits) but by the stream test, with a deadline, against the event stream shown under it.
STREAM_PATH = "/api/v1/bars/stream"
# values that do not depend on the moment an example runs; everything else is compared by type only
STABLE_KEYS = frozenset({"success", "code", "status", "connected", "state", "symbol", "period", "error"})


@dataclass(frozen=True)
class CurlExample:
    command: str  # as printed, continuation lines joined
    expected: Any  # the answer README shows for it (the next ```json block or a trailing comment), or None
    line: int  # where it starts in README.md, for messages


@dataclass(frozen=True)
class StreamExample:
    command: str
    shown: str  # the event stream README shows for it (the ```text block under the command)
    line: int


@dataclass(frozen=True)
class BodyExample:
    body: dict[str, Any]
    line: int


def _blocks(text: str) -> list[tuple[str, list[str], int]]:
    """Fenced code blocks: (language, lines, line number of the opening fence)."""
    blocks: list[tuple[str, list[str], int]] = []
    current: tuple[str, list[str], int] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE_RE.match(line)
        if fence and current is None:
            current = (fence.group(1), [], number)
        elif line.strip() == "```" and current is not None:
            blocks.append(current)
            current = None
        elif current is not None:
            current[1].append(line)
    return blocks


def _logical_lines(lines: list[str]) -> list[str]:
    """Shell lines with backslash continuations joined."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1].rstrip() + " "
            continue
        out.append((pending + line.strip()).strip())
        pending = ""
    return [line for line in out if line]


def loads_shown(text: str) -> Any:
    """JSON as README shows it: `...` marks what is left out."""
    return json.loads(re.sub(r",\s*\.\.\.", "", text).replace("...", ""))


def curl_examples(readme: str) -> list[CurlExample]:
    examples: list[CurlExample] = []
    blocks = _blocks(readme)
    for index, (language, lines, start) in enumerate(blocks):
        if language != "bash":
            continue
        found: list[tuple[str, Any]] = []
        for line in _logical_lines(lines):
            if line.startswith("# {") and found and found[-1][1] is None:  # the answer, on the line under it
                found[-1] = (found[-1][0], loads_shown(line[2:]))
                continue
            if not line.startswith("curl ") or STREAM_PATH in line:
                continue
            commented = COMMENTED_RE.match(line)
            if commented:
                found.append((commented.group(1), loads_shown(commented.group(2))))
            else:
                found.append((line, None))
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if len(found) == 1 and found[0][1] is None and following is not None and following[0] == "json" \
                and following[2] == start + len(lines) + 2:  # the answer block right under the command
            found[0] = (found[0][0], loads_shown("\n".join(following[1])))
        examples.extend(CurlExample(command, expected, start) for command, expected in found)
    return examples


def stream_examples(readme: str) -> list[StreamExample]:
    """Stream curls, each with the ```text block right under its ```bash block."""
    examples: list[StreamExample] = []
    blocks = _blocks(readme)
    for index, (language, lines, start) in enumerate(blocks):
        commands = [line for line in _logical_lines(lines) if line.startswith("curl ") and STREAM_PATH in line]
        if language != "bash" or not commands:
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        assert len(commands) == 1 and following is not None and following[0] == "text" \
            and following[2] == start + len(lines) + 2, f"README line {start}: a stream curl needs its events shown"
        examples.append(StreamExample(commands[0], "\n".join(following[1]) + "\n", start))
    return examples


def body_examples(readme: str) -> list[BodyExample]:
    """Request bodies shown inline, e.g. in the bars table: `{"symbol": "EUR", ...}`."""
    return [BodyExample(json.loads(m.group(1)), number)
            for number, line in enumerate(readme.splitlines(), 1) for m in INLINE_BODY_RE.finditer(line)]


def mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` does not have the shape (and stable values) of `expected`; empty when it matches."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: expected an object, got {actual!r:.80}"]
        problems: list[str] = []
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key not in actual:
                problems.append(f"{where}: missing")
            elif key in STABLE_KEYS and not isinstance(value, dict | list):
                if actual[key] != value:
                    problems.append(f"{where}: expected {value!r}, got {actual[key]!r}")
            else:
                problems.extend(mismatches(value, actual[key], where))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r:.80}"]
        if expected and not actual:
            return [f"{path}: expected items, got none"]
        return mismatches(expected[0], actual[0], f"{path}[0]") if expected else []
    if expected is None:
        return []  # null in an example: any value (or null)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return [] if type(expected) is type(actual) else [f"{path}: expected {expected!r}, got {actual!r}"]
    if isinstance(expected, int | float):
        return [] if isinstance(actual, int | float) else [f"{path}: expected a number, got {actual!r}"]
    return [] if isinstance(actual, type(expected)) else [f"{path}: expected {type(expected).__name__}, got "
                                                          f"{actual!r:.80}"]
