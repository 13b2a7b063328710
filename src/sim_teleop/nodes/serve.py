"""The serve loop and small helpers shared by the dora nodes.

Every node registers once (`connect`), then `Serve` turns dora's events into calls: STOP ends the
loop, INPUT events are decoded and dispatched by input id, a malformed message is logged once per
input and kind (`OnceLogger`) and skipped, and `finish` prints the count of those at the end. Every
node registers its handlers and calls `Serve.run` once: one loop to read, whatever else a node needs
(a turn between events, catching up, draining after STOP) is an option of it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim_teleop.config import verbose_requested
from sim_teleop.messages import MessageError

Handler = Callable[[Any, dict[str, Any]], bool | None]
"""Called with the decoded value and its event; returns True to end the serve loop."""


def exit_now(code: int = 0) -> None:
    """Leave at once, after flushing the console: for a node whose native teardown (a MuJoCo viewer,
    a rerun sender to a gone viewer) would crash or wait forever once everything is saved."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def quiet_libraries() -> bool:
    """Silence the libraries' per-episode chatter unless SIM_TELEOP_VERBOSE=1; returns True if silenced.

    Measured in a 205-episode autopilot run: 8241 of 12045 console lines were SVT-AV1's encoder banner
    (~20 per camera per episode) and 205 were `datasets` progress bars. SVT reads SVT_LOG when an
    encoder starts (1 = errors only), so this must run before the first episode is encoded.
    """
    if verbose_requested():
        return False
    os.environ.setdefault("SVT_LOG", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # lerobot's own bars (dataset tools)
    warnings.filterwarnings("ignore", message="Cannot enable progress bars")
    try:
        import av

        av.logging.set_level(av.logging.ERROR)  # "[mp4 @ ...] Starting second pass ..." per video file
    except ImportError:
        pass
    return True


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


def connect(node: Any = None) -> Any:
    """The node's dora connection: the one given (a test's MockNode) or a new `dora.Node`, watched
    by `leave_with_parent`.

    dora holds every node until all have registered, so a node registers even when it is about to
    fail: one that never does makes every peer fail to start, a traceback each."""
    if node is not None:
        return node
    from dora import Node

    leave_with_parent()
    return Node()


PARENT_POLL_S = 1.0


def leave_with_parent(
    poll_s: float = PARENT_POLL_S, leave: Callable[[], None] | None = None
) -> threading.Thread:
    """End this node when the process that started it (its dora daemon, or `dora run`) is gone.

    Why: a SIGKILLed daemon left its nodes running as orphans (parent 1), a recorder among them holding
    the root's lock, so a resume was refused until someone killed them by hand. A thread notices the
    parent change within `poll_s` and leaves at once: commits are atomic (dataset.publish) and the
    kernel drops the lock, so leaving mid-episode loses only that unfinished episode. (PR_SET_PDEATHSIG
    is not used: it fires when the *thread* that spawned us ends, which in a Rust runtime may be any
    time.)"""
    parent = os.getppid()

    def gone() -> None:
        with contextlib.suppress(OSError, ValueError):
            print(
                f"[{os.path.basename(sys.argv[0])}] the dora daemon has gone: leaving",
                file=sys.stderr,
                flush=True,
            )
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        (leave or gone)()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def _timed_out(event: dict[str, Any]) -> bool:
    """dora's `next(timeout=...)` answers a timeout with an ERROR event."""
    return event["type"] == "ERROR" and "Timeout" in str(event.get("error", ""))


def _no_turn() -> None:
    return None


@dataclass
class _Route:
    decode: Callable[[Any], Any]
    handle: Handler
    note: str  # appended to the first "ignored bad ..." line, e.g. what the node does instead
    forward: str | None  # an output the raw value is sent on unchanged first (an inline stage)


def _raw(value: Any) -> Any:
    return value


class Serve:
    """One node's event loop: dispatch of inputs by id, one-time logging of malformed messages."""

    def __init__(self, name: str, node: Any = None) -> None:
        self.name = name
        self.node = connect(node)
        self.problems = OnceLogger(self.log)
        self._inputs: dict[str, _Route] = {}
        self._prefixes: dict[str, _Route] = {}
        self._closed: dict[str, Callable[[str], bool | None]] = {}
        self.received_at = 0.0  # perf_counter when the input being handled was received
        self._tracing = False  # run(trace=True)

    def log(self, message: str) -> None:
        log(self.name, message)

    def declared(self, kind: str) -> set[str]:
        """The node's declared `inputs` or `outputs` (empty when dora cannot say, e.g. a MockNode)."""
        try:
            return set((self.node.node_config() or {}).get(kind, {}) or {})
        except Exception:
            return set()

    def send(self, output: str, payload: Any, metadata: dict[str, Any] | None = None) -> None:
        self.node.send_output(output, payload, metadata)

    def on(
        self,
        input_id: str,
        handle: Handler,
        decode: Callable[[Any], Any] = _raw,
        *,
        prefix: bool = False,
        note: str = "",
        forward: str | None = None,
    ) -> None:
        """Route input `input_id` (every input starting with it, with `prefix`) through `decode` to
        `handle`; a value `decode` rejects with MessageError is logged once and skipped. `forward`:
        send the raw value, with its metadata, on that output before decoding it."""
        (self._prefixes if prefix else self._inputs)[input_id] = _Route(decode, handle, note, forward)

    def on_closed(self, input_id: str, handle: Callable[[str], bool | None]) -> None:
        """Call `handle(input_id)` when that input closes (its source has gone); True ends the loop."""
        self._closed[input_id] = handle

    def _route(self, input_id: str) -> _Route | None:
        route = self._inputs.get(input_id)
        if route is None:
            route = next((r for p, r in self._prefixes.items() if input_id.startswith(p)), None)
        return route

    def dispatch(self, event: dict[str, Any]) -> bool:
        """Handle one event; True when the loop should end (STOP, or a handler said so)."""
        kind = event["type"]
        if kind == "STOP":
            return True
        if kind == "INPUT_CLOSED":
            closed = self._closed.get(event.get("id", ""))
            return bool(closed and closed(event["id"]))
        route = self._route(event["id"]) if kind == "INPUT" else None
        if route is None:
            return False
        self.received_at = time.perf_counter()
        if route.forward is not None:
            self.send(route.forward, event["value"], event.get("metadata") or {})
        try:
            value = route.decode(event["value"])
        except MessageError as exc:
            input_id = event["id"]
            self.problems(f"{input_id}:{exc.kind}", f"ignored bad {input_id}: {exc}{route.note}")
            return False
        return bool(route.handle(value, event))

    def run(
        self,
        *,
        idle_s: float | Callable[[], float] | None = None,
        on_idle: Callable[[], bool | None] | None = None,
        catch_up: Callable[[], bool] | None = None,
        after: Callable[[], bool | None] | None = None,
        drain_s: float | None = None,
        trace: bool = False,
    ) -> None:
        """Serve events until STOP, a handler ends the loop, or the stream ends; every node's one loop.

        `idle_s` + `on_idle`: a node that must also act between events (the keyboard's takeover, the
        clock's ticks) gets a turn when no event came for `idle_s`; a callable `idle_s` says how long
        until that turn and is asked again before each wait, <= 0 meaning now (a timer may wake early).
        `catch_up`: while it says so, what queued behind an input is dispatched as one batch, so a node
        that fell behind handles it together (the policy acts on the newest frame only).
        `after`: called after each event or batch is dispatched, the one that ends the loop included.
        `drain_s`: once the loop ends on STOP or a handler, what is still queued is dispatched too, each
        wait bounded by `drain_s`, until the first timeout (the recorder's frames still in flight).
        `trace`: log every event other than an input as it arrives, timeouts included (debugging).
        True from `on_idle` or `after` ends the loop at once, without draining.
        """
        if (idle_s is None) != (on_idle is None):
            raise ValueError("idle_s and on_idle go together")
        if isinstance(idle_s, int | float) and idle_s <= 0:
            raise ValueError("a fixed idle_s must be > 0, or no event would ever be read")
        self._tracing = trace
        if self._serve(idle_s, on_idle or _no_turn, catch_up, after) and drain_s is not None:
            self._drain(drain_s, after)

    def _serve(
        self,
        idle_s: float | Callable[[], float] | None,
        turn: Callable[[], bool | None],
        catch_up: Callable[[], bool] | None,
        after: Callable[[], bool | None] | None,
    ) -> bool:
        """`run`'s loop; True when STOP or a handler ended it (then what is still queued may drain)."""
        while True:
            wait = idle_s() if callable(idle_s) else idle_s
            if wait is not None and wait <= 0:
                if turn():
                    return False
                continue
            event = self._receive(wait)
            if event is None:
                return False
            if wait is not None and _timed_out(event):
                # A fixed idle_s has passed; a callable one is asked again (a timer may wake early).
                if not callable(idle_s) and turn():
                    return False
                continue
            batch = self._batch(event) if catch_up is not None and catch_up() else [event]
            ended = any(self.dispatch(e) for e in batch)  # what follows the end in a batch is dropped
            if after is not None and after():
                return False
            if ended:
                return True

    def _drain(self, drain_s: float, after: Callable[[], bool | None] | None) -> None:
        while (event := self._receive(drain_s)) is not None:
            if event["type"] == "ERROR":  # a timeout: nothing more was queued
                return
            self.dispatch(event)
            if after is not None and after():
                return

    def _receive(self, timeout: float | None) -> dict[str, Any] | None:
        # Untimed, the node is iterated, as the untimed loops always read it.
        event = next(self.node, None) if timeout is None else self.node.next(timeout=timeout)
        if event is not None:
            self._trace(event)
        return event

    def _batch(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """`event` and every input already queued behind it, up to the first other event."""
        batch = [event]
        while batch[-1]["type"] == "INPUT":
            more = self.node.try_recv()
            if more is None:
                break
            self._trace(more)
            batch.append(more)
        return batch

    def _trace(self, event: dict[str, Any]) -> None:
        if self._tracing and event["type"] != "INPUT":
            self.log(f"event {event['type']} {event.get('id')} {event.get('error', '')}")

    def finish(self) -> None:
        """The end-of-run line about malformed messages, when there were any."""
        if self.problems.counts:
            self.log(f"bad messages ignored: {self.problems.summary()}")
