"""EvalSession: a slow policy acts only on the newest queued frame; every frame is book-kept."""

from __future__ import annotations

import numpy as np
from frames import attempt, frame

from sim_teleop.eval.session import EvalSession
from sim_teleop.messages import ACTION, CONTROL, TICK, Control, EndReason, Frame, Phase, decode_control


class SlowPolicy:
    """Answers with its call count; each answer takes `delay` seconds of a fake clock."""

    def __init__(self, clock: list[float], delay: float) -> None:
        self.clock = clock
        self.delay = delay
        self.calls = 0
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, obs: dict) -> np.ndarray:
        self.calls += 1
        self.clock[0] += self.delay
        return np.array([self.calls, 0.0, 0.0, 1.0], np.float32)


def _session(delay: float) -> tuple[EvalSession, SlowPolicy]:
    clock = [0.0]
    policy = SlowPolicy(clock, delay)
    session = EvalSession(policy, 1, 10, 0.1, lambda _m: None, lambda _k, _m: None, timer=lambda: clock[0])
    return session, policy


def _ticked(frames: list[Frame]) -> list[Frame]:
    for i, f in enumerate(frames):
        f.tick_index = i
    return frames


def _answered(outputs: list) -> list[int]:
    return [meta[TICK] for output, _payload, meta in outputs if output == ACTION]


def test_slow_policy_answers_only_the_newest_queued_frame() -> None:
    session, policy = _session(delay=0.08)  # > half the 100 ms tick
    f = _ticked([frame(0, Phase.RUNNING, i) for i in range(8)])
    assert _answered(session.on_frames(f[:1])) == [0]
    assert session.catching_up  # the next frames queued while it thought: take them together
    assert _answered(session.on_frames(f[1:4])) == [3]
    assert session.stale_frames == 2 and session.running_frames == 4
    policy.delay = 0.01  # fast again: one frame, one answer
    assert _answered(session.on_frames(f[4:6])) == [5]
    assert not session.catching_up
    assert _answered(session.on_frames(f[6:7])) == [6]
    assert policy.calls == 4 and policy.resets == 1
    assert session.summary("ckpt")["frames_without_fresh_action"] == 3


def test_a_batch_ending_the_attempt_sends_commands_and_no_action() -> None:
    session, _policy = _session(delay=0.08)
    frames = _ticked(attempt(0, 3, EndReason.SUCCESS, done=1, resetting=1))
    assert _answered(session.on_frames(frames[:1])) == [0]
    out = session.on_frames(frames[1:])  # running, end frame, done, resetting: all queued behind
    assert _answered(out) == []  # the frame that was due an action was overtaken by the attempt's end
    assert [decode_control(p) for o, p, _m in out if o == CONTROL] == [Control.NEXT, Control.STOP]
    summary = session.summary("ckpt")
    assert summary["episodes"] == 1 and summary["stop_sent"] is True and summary["policy_steps"] == 1
