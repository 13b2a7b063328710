"""The nodes whose loop does more than dispatch, under MockNodes whose timed waits time out: the clock
ticks on its schedule and the keyboard's takeover leaves the moment a key goes down (`Serve.run`'s idle
turn); the recorder ends a stalled run, stops when it says so and drains after STOP."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from conftest import load_node
from dora.testing import MockNode
from frames import frame

from sim_teleop.messages import (
    FRAME,
    TAKEOVER,
    TICK,
    Phase,
    decode_action,
    decode_tick,
    encode_action,
    encode_frame,
)

TIMEOUT = {"type": "ERROR", "error": "Timeout event stream error: deadline has elapsed"}


class SilentNode(MockNode):
    """No event comes for `quiet_s` from the first wait: each timed wait sleeps out its timeout (a
    timeout event), then the queued events follow."""

    def __init__(self, events: list[dict[str, Any]], quiet_s: float) -> None:
        super().__init__(events)
        self.quiet_s = quiet_s
        self.quiet_until: float | None = None

    def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        if self.quiet_until is None:
            self.quiet_until = time.monotonic() + self.quiet_s
        left = self.quiet_until - time.monotonic()
        if timeout is not None and left > 0:
            time.sleep(min(timeout, left))
            if timeout < left:
                return TIMEOUT
        return super().next(timeout)


def test_clock_ticks_on_its_schedule_until_the_sim_goes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICK_MS", "20")
    node = SilentNode([{"type": "INPUT_CLOSED", "id": FRAME}, {"type": "INPUT", "id": FRAME}], 0.3)
    load_node("clock").main(node)
    ticks = [decode_tick(t) for t in node.outputs[TICK]]
    # Tick 0, then one every 20 ms for 0.3 s (a busy CPU may skip some, never repeat one).
    assert ticks[0] == 0 and ticks == sorted(set(ticks))
    assert len(ticks) >= 8 and 12 <= ticks[-1] <= 17, ticks
    assert [e["type"] for e in node.drain()] == ["INPUT", "STOP"]  # it ended when `frame` closed
    assert f"done: {len(ticks)} ticks sent" in capsys.readouterr().err


def test_clock_ends_on_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICK_MS", "20")
    node = SilentNode([{"type": "STOP"}], 0.1)
    load_node("clock").main(node)
    assert 4 <= len(node.outputs[TICK]) <= 7


def test_takeover_action_leaves_between_frames_when_a_key_goes_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keyboard = load_node("keyboard")
    monkeypatch.setenv("KEYBOARD_TAKEOVER", "1")
    monkeypatch.delenv("EVAL_CORRECTOR", raising=False)
    teleops: list[Any] = []

    class Listener:
        def stop(self) -> None:
            pass

    def start(teleop: Any) -> Listener:
        teleops.append(teleop)
        return Listener()

    monkeypatch.setattr(keyboard, "_start_listener", start)

    def value(i: int) -> dict[str, Any]:
        return {"type": "INPUT", "id": FRAME, "value": encode_frame(frame(0, Phase.RUNNING, i))}

    sent: list[int] = []  # actions sent when each wait began

    class KeyDownNode(MockNode):
        """After the first frame, no frame for a while: Right goes down during that wait."""

        def next(self, timeout: float | None = None) -> dict[str, Any] | None:
            assert timeout == keyboard.IDLE_S
            sent.append(len(self.outputs["action"]))
            event = super().next(timeout)
            if event is not None and event["type"] == "ERROR" and len(sent) == 2:
                teleops[0].press("right")
            return event

    node = KeyDownNode([value(0), TIMEOUT, TIMEOUT, value(1)])
    keyboard.main(node)
    # The warm-up; nothing for frame 0 (no key held); at the idle turn right after Right went down, the
    # takeover's first action (from the frame's target), before any other frame; then frame 1's.
    assert sent == [1, 1, 2, 2, 3]
    actions = [decode_action(a) for a in node.outputs["action"]]
    assert len(actions) == 3
    np.testing.assert_allclose(actions[1], np.zeros(4), atol=1e-3)


class FakeRecorder:
    """What the recorder node's loop asks of `Recorder`: whether to stop, a writer error, a cut-off."""

    def __init__(self, reasons: list[str | None]) -> None:
        self.reasons = reasons
        self.cut_off = False
        self.error: Exception | None = None

    def stop_reason(self) -> str | None:
        return self.reasons.pop(0) if self.reasons else None


class ClockedNode(MockNode):
    """Each wait takes `step_s` of a fake clock and is recorded."""

    def __init__(self, events: list[dict[str, Any]], step_s: float) -> None:
        super().__init__(events)
        self.step_s = step_s
        self.now = 0.0
        self.waits: list[float | None] = []

    def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        self.now += self.step_s
        self.waits.append(timeout)
        return super().next(timeout)


def _recorder_loop(
    events: list[dict[str, Any]], reasons: list[str | None], stall_s: float = 0.0
) -> tuple[ClockedNode, FakeRecorder]:
    from sim_teleop.nodes.serve import Serve
    from sim_teleop.sim.watchdog import ConsumerWatch

    recorder_node = load_node("recorder")
    node = ClockedNode(events, 3.0)
    serve = Serve(recorder_node.NAME, node)
    recorder = FakeRecorder(reasons)
    watch = ConsumerWatch(stall_s, clock=lambda: node.now)
    watch.heard(0)  # frames had started
    recorder_node._serve(serve, recorder, recorder_node._Stopper(serve), watch, False)
    return node, recorder


def test_recorder_ends_the_run_when_frames_stop_for_stall_s(capsys: pytest.CaptureFixture[str]) -> None:
    other = {"type": "INPUT", "id": "other", "value": None}
    node, recorder = _recorder_loop([TIMEOUT, TIMEOUT, other], [], stall_s=5.0)
    assert recorder.cut_off  # at the second idle turn, 6 s after the last frame
    assert "[recorder] no frame from the sim for 6 s (its side stalled or cut off): ending the run" in (
        capsys.readouterr().err
    )
    assert [e["id"] for e in node.drain()] == ["other", "ALL_INPUTS_CLOSED"]


def test_recorder_stops_when_it_says_so_and_drains_after_stop(capsys: pytest.CaptureFixture[str]) -> None:
    from sim_teleop.messages import CONTROL, Control, decode_control

    recorder_node = load_node("recorder")
    other = {"type": "INPUT", "id": "other", "value": None}
    events: list[dict[str, Any]] = [TIMEOUT, other, {"type": "STOP"}, other, TIMEOUT, other]
    # Asked after the idle turn (no), after `other` (yes), then after each event drained.
    node, recorder = _recorder_loop(events, [None, "target reached", "again"])
    assert [decode_control(c) for c in node.outputs[CONTROL]] == [Control.STOP]  # once
    assert "[recorder] sending stop: target reached" in capsys.readouterr().err
    wake, drain = recorder_node.WAKE_S, recorder_node.DRAIN_S
    assert node.waits == [wake, wake, wake, drain, drain]  # the drain ended at its first timeout
    assert not recorder.cut_off and recorder.reasons == []
    assert [e["id"] for e in node.drain()] == ["other"]


def test_clock_ticks_at_once_on_a_takeovers_first_action_and_only_then(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TICK_MS", "1000")  # no tick of the grid falls inside the test
    action = {"type": "INPUT", "id": TAKEOVER, "value": encode_action(np.zeros(4, np.float32))}
    node = SilentNode(
        [
            {**action, "metadata": {}},  # the keyboard's other actions: no tick
            {**action, "metadata": {TAKEOVER: True}},
            {"type": "INPUT_CLOSED", "id": FRAME},
        ],
        0.1,
    )
    started = time.monotonic()
    load_node("clock").main(node)
    # Tick 0 (the slow first send), 1 (the grid starts), 2: the takeover's, not the grid's at 1 s.
    assert [decode_tick(t) for t in node.outputs[TICK]] == [0, 1, 2]
    assert time.monotonic() - started < 0.9
    assert "(1 at once for a takeover)" in capsys.readouterr().err
