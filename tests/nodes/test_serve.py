"""The shared serve loop: dispatch by input id, one line per kind of bad message, STOP and closed inputs."""

from __future__ import annotations

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


def test_next_batch_takes_what_queued_only_when_catching_up() -> None:
    events = [("n", pa.array([i])) for i in range(3)]
    serve = Serve("test", MockNode(events))
    assert len(serve.next_batch(catch_up=False)) == 1
    batch = serve.next_batch(catch_up=True)
    assert [e["type"] for e in batch] == ["INPUT", "INPUT", "STOP"]  # stops taking at a non-input
    assert serve.next_batch(catch_up=True) == []


def test_frames_yields_decoded_frames_until_stop() -> None:
    from frames import frame

    from sim_teleop.messages import Phase, encode_frame

    frames = [frame(0, Phase.RUNNING, i) for i in range(3)]
    values = [encode_frame(frames[0]), pa.array([1]), encode_frame(frames[1])]
    events: list[dict] = [{"type": "INPUT", "id": "frame", "value": v, "metadata": {}} for v in values]
    events += [{"type": "STOP"}, {"type": "INPUT", "id": "frame", "value": encode_frame(frames[2])}]
    serve = Serve("test", MockNode(events))
    assert [f.frame_index for f in serve.frames()] == [0, 1]
    assert sum(serve.problems.counts.values()) == 1
