"""Small helpers shared by the dora node scripts."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sim_teleop.messages import FRAME, Frame, MessageError, decode_frame


def log(node_name: str, message: str) -> None:
    """One line on stderr, prefixed with the node name (dora collects node output per node)."""
    print(f"[{node_name}] {message}", file=sys.stderr, flush=True)


class OnceLogger:
    """Logs the first occurrence of each kind of problem, counts the rest (a bad peer must not flood logs)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.counts: Counter[str] = Counter()

    def __call__(self, key: str, message: str) -> None:
        self.counts[key] += 1
        if self.counts[key] == 1:
            self.emit(f"{message} (further '{key}' problems are counted, not logged)")

    def summary(self) -> str:
        return ", ".join(f"{k}: {n}" for k, n in sorted(self.counts.items()))


def frames(node: Iterable[dict[str, Any]], problems: OnceLogger) -> Iterator[Frame]:
    """Decoded frames from a node's `frame` input until STOP; malformed ones are logged once and skipped."""
    for event in node:
        if event["type"] == "STOP":
            return
        if event["type"] != "INPUT" or event["id"] != FRAME:
            continue
        try:
            yield decode_frame(event["value"])
        except MessageError as exc:
            problems(type(exc).__name__, f"ignored bad frame: {exc}")
