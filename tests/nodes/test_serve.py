"""The shared serve loop: dispatch by input id, one line per kind of bad message, STOP and closed inputs,
and `run`'s options: the idle turn, catching up, `after`, draining after STOP, tracing."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from dora.testing import MockNode

from sim_teleop.messages import MessageError
from sim_teleop.nodes.serve import Serve


def _number(value: pa.Array) -> int:
    n = value[0].as_py()
    if not isinstance(n, int) or n < 0:
        raise MessageError(f"not a count: {n!r}", kind="negative" if isinstance(n, int) else "malformed")
    return n


def test_inputs_are_decoded_and_dispatched_by_id_and_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[str, int]] = []
    node = MockNode(
        [
            ("count", pa.array([1])),
            ("count", pa.array([-1])),
            ("count", pa.array(["x"])),
            ("count", pa.array([-2])),
            ("control_recorder", pa.array([2])),
            ("other", pa.array([9])),
            ("count", pa.array([3])),
        ]
    )
    serve = Serve("test", node)
    serve.on("count", lambda n, event: seen.append((event["id"], n)), _number, note="; kept the last")
    serve.on("control", lambda n, event: seen.append((event["id"], n)), _number, prefix=True)
    serve.run()
    serve.finish()
    assert seen == [("count", 1), ("control_recorder", 2), ("count", 3)]
    err = capsys.readouterr().err
    assert err.count("[test] ignored bad count") == 2  # one line per kind of problem, not per message
    assert "not a count: -1; kept the last" in err
    assert "bad messages ignored: count:malformed: 1, count:negative: 2" in err


def test_stop_a_handler_or_a_closed_input_ends_the_loop() -> None:
    handled: list[int] = []

    def handle(n: int, _event: dict) -> bool:
        handled.append(n)
        return n == 2

    serve = Serve("test", MockNode([("n", pa.array([1])), ("n", pa.array([2])), ("n", pa.array([3]))]))
    serve.on("n", handle, _number)
    serve.run()
    assert handled == [1, 2]
    assert serve.node.next()["id"] == "n"  # the rest is left unread

    closed: list[str] = []

    def gone(input_id: str) -> bool:
        closed.append(input_id)
        return True

    serve = Serve(
        "test", MockNode([{"type": "INPUT_CLOSED", "id": "a"}, {"type": "INPUT_CLOSED", "id": "b"}])
    )
    serve.on_closed("b", gone)
    assert not serve.dispatch(serve.node.next())  # no handler for `a`: served on
    assert serve.dispatch(serve.node.next())
    assert closed == ["b"]
    assert serve.dispatch(serve.node.next())  # STOP


def test_forward_sends_the_raw_value_before_decoding() -> None:
    value = pa.array(["not a number"])
    serve = Serve("test", MockNode([("n", value)], metadata={"k": 1}))
    serve.on("n", lambda n, _e: None, _number, forward="out")
    serve.run()
    assert serve.node.outputs["out"] == [value]  # forwarded even though it does not decode


TIMEOUT = {"type": "ERROR", "error": "Timeout event stream error: deadline has elapsed"}


class TimedNode(MockNode):
    """A MockNode that records each wait for an event: its timeout, None when it blocks."""

    def __init__(self, inputs: list[dict[str, Any]]) -> None:
        super().__init__(inputs)
        self.waits: list[float | None] = []

    def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        self.waits.append(timeout)
        return super().next(timeout)

    def __next__(self) -> dict[str, Any]:
        self.waits.append(None)
        return super().__next__()


def _n(i: int) -> dict[str, Any]:
    return {"type": "INPUT", "id": "n", "value": pa.array([i]), "metadata": {}}


def _serve(events: list[dict[str, Any]], seen: list[object]) -> Serve:
    serve = Serve("test", TimedNode(events))
    serve.on("n", lambda n, _event: seen.append(n), _number)
    return serve


def test_idle_turn_comes_when_no_event_came_within_idle_s() -> None:
    seen: list[object] = []
    serve = _serve([_n(1), TIMEOUT, TIMEOUT, _n(2), TIMEOUT, _n(3)], seen)
    serve.run(idle_s=0.02, on_idle=lambda: seen.append("idle"))
    assert seen == [1, "idle", "idle", 2, "idle", 3]
    assert serve.node.waits == [0.02] * 7  # the STOP after 3 included

    seen.clear()
    serve = _serve([_n(1), TIMEOUT, _n(2)], seen)

    def last_turn() -> bool:
        seen.append("idle")
        return True  # ends the loop at once

    serve.run(idle_s=0.02, on_idle=last_turn)
    assert seen == [1, "idle"] and serve.node.next()["id"] == "n"


def test_a_dynamic_idle_time_is_asked_before_each_wait_and_due_at_once_when_not_positive() -> None:
    """The clock: its turn is due when the time to its next tick is <= 0; no wait, no event read."""
    seen: list[object] = []
    times = iter([0.0, -0.5, 0.3, 0.2, -0.1, 0.3, 0.3])
    serve = _serve([_n(1), TIMEOUT, _n(2)], seen)
    serve.run(idle_s=lambda: next(times), on_idle=lambda: seen.append("turn"))
    # 0.0, -0.5: two turns before anything is read; 0.3: `1` arrives; 0.2: a timeout that came before
    # the time said <= 0 is no turn (asked again); -0.1: the turn; 0.3: `2`; 0.3: STOP.
    assert seen == ["turn", "turn", 1, "turn", 2]
    assert serve.node.waits == [0.3, 0.2, 0.3, 0.3]


def test_catch_up_dispatches_what_queued_as_one_batch_and_after_follows_each_batch() -> None:
    seen: list[object] = []
    batches: list[list[object]] = []

    def after() -> bool:
        batches.append(list(seen))
        seen.clear()
        return False

    closed = {"type": "INPUT_CLOSED", "id": "x"}
    serve = _serve([_n(0), _n(1), closed, _n(2), _n(3), {"type": "STOP"}, _n(4)], seen)
    serve.run(catch_up=lambda: bool(batches), after=after)  # not catching up before the first batch
    # A batch ends at the first event that is not an input; the batch that stops is followed too.
    assert batches == [[0], [1], [2, 3]]
    assert serve.node.next()["id"] == "n"  # nothing read after STOP

    seen.clear()
    batches.clear()
    serve = _serve([_n(0), _n(1), _n(2)], seen)
    serve.run(catch_up=lambda: False, after=after)
    assert batches == [[0], [1], [2], []]  # one event at a time; `after` follows the STOP too

    batches.clear()
    serve = _serve([_n(0), _n(1), _n(2)], seen)
    serve.run(after=lambda: after() or len(batches) == 2)  # True ends the loop at once
    assert batches == [[0], [1]] and serve.node.next()["id"] == "n"


def test_drain_after_stop_reads_what_is_queued_with_bounded_waits_until_a_timeout() -> None:
    seen: list[object] = []
    events = [_n(1), {"type": "STOP"}, _n(2), _n(3), TIMEOUT, _n(4)]
    serve = _serve(events, seen)
    afters: list[list[object]] = []
    serve.run(drain_s=2.0, after=lambda: afters.append(list(seen)))
    assert seen == [1, 2, 3]  # not 4: the timeout ended the drain
    assert serve.node.waits == [None, None, 2.0, 2.0, 2.0]
    assert afters == [[1], [1], [1, 2], [1, 2, 3]]  # after each event, the drained ones too
    assert serve.node.next()["id"] == "n"

    seen.clear()
    serve = _serve([_n(1), {"type": "STOP"}, _n(2)], seen)
    serve.run()  # no drain: nothing read after STOP
    assert seen == [1] and serve.node.next()["id"] == "n"

    serve = _serve([_n(1), {"type": "STOP"}, _n(2)], [])
    serve.run(drain_s=2.0, after=lambda: True)  # `after` ending the loop skips the drain
    assert serve.node.waits == [None]


def test_trace_logs_every_event_but_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    serve = _serve([_n(1), TIMEOUT, {"type": "INPUT_CLOSED", "id": "n"}], [])
    serve.run(idle_s=1.0, on_idle=lambda: None, trace=True)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"[test] event ERROR None {TIMEOUT['error']}",
        "[test] event INPUT_CLOSED n ",
        "[test] event STOP ALL_INPUTS_CLOSED ",
    ]


def test_idle_options_are_checked() -> None:
    serve = _serve([], [])
    with pytest.raises(ValueError):
        serve.run(idle_s=1.0)
    with pytest.raises(ValueError):
        serve.run(idle_s=0.0, on_idle=lambda: None)
