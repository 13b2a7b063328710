"""Takeover during an eval: the sim's handover rule, the keyboard's continuity, the policy's reset and
the summary's accounting, all with fake clocks (no dora, no display)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from frames import attempt, frame

from sim_teleop.control.takeover import KeyboardTakeover
from sim_teleop.control.teleop import KeyboardTeleop
from sim_teleop.eval.controller import EvalController
from sim_teleop.eval.summary import EvalTracker, summarize
from sim_teleop.messages import EndReason, Frame, Phase
from sim_teleop.sim.handover import RELEASE_S, Handover

NEUTRAL = np.array([0.0, 0.0, 0.0, 0.0], np.float32)


def _is(got: tuple[np.ndarray, bool], action: np.ndarray, person: bool) -> bool:
    return got[1] is person and np.allclose(got[0], action)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _handover() -> tuple[Handover, Clock, list[str]]:
    clock, said = Clock(), list[str]()
    return Handover(NEUTRAL, clock=clock, say=said.append), clock, said


def test_a_persons_action_takes_over_at_once_and_the_policy_returns_after_the_release_time() -> None:
    h, clock, said = _handover()
    policy = np.array([0.1, 0.0, 0.05, 1.0], np.float32)
    h.on_policy(policy, answers_tick=0)
    assert _is(h.drive(1), policy, False)
    human = np.array([0.1, 0.01, 0.05, 1.0], np.float32)
    h.on_human(human)
    action, person = h.drive(2)
    assert person and action == pytest.approx(human)
    assert len(said) == 1 and "took over" in said[0]
    # The policy's answers while a person drives are not applied.
    h.on_policy(np.array([0.3, 0.3, 0.3, 0.0], np.float32), answers_tick=2)
    clock.t += RELEASE_S - 0.05  # a pause between two keys: still the person's
    assert h.drive(3)[1]
    clock.t += 0.05  # 1 s without a key: the policy again, holding the person's last target
    action, person = h.drive(4)
    assert not person and action == pytest.approx(human)
    assert len(said) == 2 and "policy drives again" in said[1]
    # An answer to a frame from before the handback is stale; the first fresh one drives.
    h.on_policy(np.array([0.5, 0.5, 0.5, 0.0], np.float32), answers_tick=3)
    assert _is(h.drive(5), human, False)
    fresh = np.array([0.11, 0.01, 0.05, 1.0], np.float32)
    h.on_policy(fresh, answers_tick=4)
    assert _is(h.drive(6), fresh, False)
    assert h.takeovers == 1


def test_a_starved_sim_keeps_the_person_in_control() -> None:
    """A loaded sim handles its next tick 1.2 s after the person's last action, whose newer ones still
    wait in its queue: the person keeps control until the sim has also stepped `release_ticks` without
    them."""
    clock, said = Clock(), list[str]()
    h = Handover(NEUTRAL, clock=clock, say=said.append, release_ticks=5)
    human = np.array([0.1, 0.01, 0.05, 1.0], np.float32)
    h.on_human(human)
    assert h.drive(1)[1]
    clock.t += RELEASE_S + 0.2
    assert [h.drive(k)[1] for k in range(2, 6)] == [True] * 4  # 5 ticks stepped without a key ...
    assert not h.drive(6)[1]  # ... and over 1 s: the policy again
    assert len(said) == 2 and "policy drives again" in said[1]


def test_a_new_attempt_starts_with_the_policy_even_during_a_takeover() -> None:
    h, _clock, _said = _handover()
    h.on_human(np.array([0.2, 0.0, 0.0, 1.0], np.float32))
    h.reset()
    assert _is(h.drive(0), NEUTRAL, False)


def _running(i: int, action: np.ndarray, intervention: bool = False) -> Frame:
    return dataclasses.replace(frame(0, Phase.RUNNING, i), action=action.copy(), intervention=intervention)


def test_the_first_keyboard_action_continues_the_policys_last_target() -> None:
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    takeover = KeyboardTakeover(teleop)
    last = np.array([0.12, -0.07, 0.03, 1.0], np.float32)  # the policy holds the cube closed
    assert takeover.on_frame(_running(0, last)) == (None, [])  # nobody at the keys: nothing sent
    clock.t = 0.05
    teleop.press("right")  # mid-frame: motion before the handover does not count
    clock.t = 0.1
    first, _ = takeover.on_frame(_running(1, last))
    assert first is not None
    assert np.abs(first[:3] - last[:3]).max() <= 1e-3  # within 1 mm of the policy's last target
    assert first[3] == 1.0  # the gripper stays closed as the policy left it
    clock.t = 0.6
    moved, _ = takeover.on_frame(_running(2, last, intervention=True))
    assert moved is not None and moved[0] == pytest.approx(last[0] + 0.05, abs=1e-4)
    assert moved[3] == 1.0
    teleop.release("right")
    final, _ = takeover.on_frame(_running(3, last, intervention=True))
    assert final is not None and final[0] == pytest.approx(last[0] + 0.05, abs=1e-4)
    assert takeover.on_frame(_running(4, last, intervention=True)) == (None, [])  # released: silent
    # Super pressed and let go opens the latched gripper.
    teleop.press("cmd")
    closed, _ = takeover.on_frame(_running(5, final))
    teleop.release("cmd")
    opened, _ = takeover.on_frame(_running(6, final, intervention=True))
    assert closed is not None and closed[3] == 1.0 and opened is not None and opened[3] == 0.0


def test_keys_held_across_an_episode_end_are_ignored_until_released() -> None:
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    takeover = KeyboardTakeover(teleop)
    teleop.press("up")
    action, lines = takeover.on_frame(frame(0, Phase.RESETTING, 0))
    assert action is None and len(lines) == 1 and "up held while no attempt runs" in lines[0]
    assert takeover.on_frame(frame(0, Phase.RESETTING, 1)) == (None, [])  # said once
    teleop.press("up")  # X auto-repeat while still held
    clock.t = 1.0
    assert takeover.on_frame(_running(0, NEUTRAL)) == (None, [])  # no takeover by a stale key
    teleop.release("up")
    teleop.press("up")  # a fresh press does take over
    clock.t = 1.1
    action, _ = takeover.on_frame(_running(1, NEUTRAL))
    assert action is not None


def test_the_policy_is_not_asked_while_a_person_drives_and_is_reset_when_it_drives_again() -> None:
    ctl = EvalController(episodes=5)
    zero = np.zeros(4, np.float32)
    decisions = [
        ctl.on_frame(f)
        for f in (
            _running(0, zero),
            _running(1, zero, intervention=True),
            _running(2, zero, intervention=True),
            _running(3, zero),
            _running(4, zero),
        )
    ]
    assert [d.act for d in decisions] == [True, False, False, True, True]
    assert [d.reset for d in decisions] == [True, False, False, True, False]


def test_the_summary_counts_assisted_episodes_apart_from_the_policys_successes() -> None:
    tracker = EvalTracker(fps=10)
    for ep, (reason, takeover) in enumerate(
        [(EndReason.SUCCESS, False), (EndReason.SUCCESS, True), (EndReason.TIME_LIMIT, True)]
    ):
        for f in attempt(ep, 10, reason):
            if takeover and f.phase is Phase.RUNNING and 3 <= f.frame_index < 7:
                f = dataclasses.replace(f, intervention=True)
            tracker.observe(f)
    s = summarize(tracker.results(), fps=10)
    assert (s["episodes"], s["autonomous"], s["assisted"]) == (3, 1, 2)
    assert s["successes"] == 1 and s["assisted_successes"] == 1  # an assisted success is not the policy's
    assert s["success_rate"] == pytest.approx(1 / 3)
    assert [ep["intervention_frames"] for ep in s["per_episode"]] == [0, 4, 4]
    assert s["per_episode"][1]["intervention_s"] == pytest.approx(0.4)
    assert s["intervention_s"] == pytest.approx(0.8)


def test_the_sim_stamps_the_frames_a_person_drove_and_ignores_keys_between_attempts() -> None:
    from sim_teleop.messages import Control
    from sim_teleop.sim.env import SimEnv
    from sim_teleop.sim.runner import SimConfig, SimRunner

    clock, said = Clock(), list[str]()
    sim = SimEnv(image_obs=False)
    try:
        runner = SimRunner(sim, SimConfig(time_limit_s=100), clock=clock, say=said.append)
        policy = np.array([0.05, 0.0, 0.0, 0.0], np.float32)
        human = np.array([0.05, 0.02, 0.0, 0.0], np.float32)
        flags, actions = [], []
        for i in range(30):
            clock.t = 0.1 * i
            runner.set_action(policy, answers_tick=i)
            if 10 <= i < 15:
                runner.set_human_action(human)
            f = runner.tick()
            flags.append(f.intervention)
            actions.append(f.action.copy())
            runner.advance()
        # Frames 10..14 carry the person's action; 1 s after their last one (frame 24) the policy drives.
        assert [i for i, x in enumerate(flags) if x] == list(range(10, 24))
        assert np.allclose(actions[12], human) and np.allclose(actions[29], policy)
        assert len(said) == 2
        runner.control(Control.NEXT)  # done -> resetting: nothing to drive
        runner.set_human_action(human)
        assert runner.human_ignored == 1 and not runner.tick().intervention
    finally:
        sim.close()


def test_the_sim_node_lets_a_persons_action_take_over_but_not_a_warm_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    from conftest import load_node
    from dora.testing import MockNode

    from sim_teleop.messages import WARM_UP, decode_frame, encode_action, encode_control

    monkeypatch.setenv("SIM_VIEWER", "0")

    def ev(input_id: str, value: pa.Array, meta: dict | None = None) -> dict:
        return {"type": "INPUT", "id": input_id, "value": value, "metadata": meta or {}}

    tick = ev("tick", pa.array([0]))
    human = encode_action([0.0, 0.05, 0.0, 0.0])
    events = [ev("action_human", human, {WARM_UP: True}), tick, tick, ev("action_human", human), tick, tick]
    events += [ev("control", encode_control("stop")), tick]
    node = MockNode(events)
    load_node("sim").main(node)
    frames = [decode_frame(v) for v in node.outputs["frame"]]
    assert [f.intervention for f in frames] == [False, False, True, True]
    assert np.allclose(frames[2].action, [0.0, 0.05, 0.0, 0.0])
    assert capsys.readouterr().err.count("a person took over in attempt 0 at frame 2") == 1


def test_the_policy_dying_during_a_takeover_stops_the_sim_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    from conftest import load_node
    from dora.testing import MockNode

    from sim_teleop.messages import decode_frame, encode_action

    monkeypatch.setenv("SIM_VIEWER", "0")
    tick = {"type": "INPUT", "id": "tick", "value": pa.array([0]), "metadata": {}}
    human = {
        "type": "INPUT",
        "id": "action_human",
        "value": encode_action([0.0, 0.05, 0.0, 0.0]),
        "metadata": {},
    }
    events = [tick, human, tick, {"type": "INPUT_CLOSED", "id": "action"}, tick]
    node = MockNode(events)
    load_node("sim").main(node)
    assert [decode_frame(v).intervention for v in node.outputs["frame"]] == [False, True]
    err = capsys.readouterr().err
    assert err.count("[sim] the controller has gone during a takeover: stopping") == 1


def test_a_key_going_down_between_frames_takes_over_before_the_next_frame() -> None:
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    takeover = KeyboardTakeover(teleop)
    last = np.array([0.05, 0.02, 0.01, 0.0], np.float32)
    assert takeover.on_idle(None) is None
    assert takeover.on_frame(_running(0, last)) == (None, [])
    assert takeover.on_idle(_running(0, last)) is None  # nobody at the keys
    clock.t = 0.03
    teleop.press("left")
    early = takeover.on_idle(_running(0, last))
    assert early is not None and np.allclose(early, last)  # at once, from the latest target
    assert takeover.on_idle(_running(0, last)) is None  # engaged: one action per frame from now on
    # A frame the policy still drove (it crossed the early action): start again from its target.
    newer = np.array([0.06, 0.02, 0.01, 0.0], np.float32)
    clock.t = 0.08
    again, _ = takeover.on_frame(_running(1, newer))
    assert again is not None and np.allclose(again, newer)
    clock.t = 0.13
    moved, _ = takeover.on_frame(_running(2, newer, intervention=True))
    assert moved is not None and moved[0] == pytest.approx(newer[0] - 0.005, abs=1e-4)
    teleop.release("left")
    assert takeover.on_idle(frame(0, Phase.DONE, 0, EndReason.TIME_LIMIT)) is None


def test_only_the_first_action_of_a_takeover_asks_the_clock_for_a_tick_at_once() -> None:
    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    takeover = KeyboardTakeover(teleop)
    last = np.array([0.05, 0.02, 0.01, 0.0], np.float32)
    takeover.on_frame(_running(0, last))
    assert not takeover.starting  # nobody at the keys
    clock.t = 0.03
    teleop.press("left")
    assert takeover.on_idle(_running(0, last)) is not None and takeover.starting
    clock.t = 0.05
    again, _ = takeover.on_frame(_running(1, last))  # the policy's frame crossed it: same takeover
    assert again is not None and not takeover.starting
    clock.t = 0.15
    takeover.on_frame(_running(2, last, intervention=True))
    assert not takeover.starting
    teleop.release("left")
    takeover.on_frame(_running(3, last, intervention=True))  # pays out the last motion
    takeover.on_frame(_running(4, last, intervention=True))
    assert not takeover.engaged
    clock.t = 0.5
    teleop.press("right")  # within the sim's 1 s grace: still the person's takeover, no new tick
    assert takeover.on_idle(_running(4, last, intervention=True)) is not None
    assert not takeover.starting
    teleop.release("right")
    takeover.on_frame(_running(5, last, intervention=True))
    takeover.on_frame(_running(6, last, intervention=True))
    clock.t = 2.0
    teleop.press("up")  # the policy drives again: a fresh takeover, caught on a frame this time
    first, _ = takeover.on_frame(_running(20, last))
    assert first is not None and takeover.starting


def test_a_takeover_tick_that_overtakes_the_persons_action_is_served_when_the_action_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyarrow as pa
    from conftest import load_node
    from dora.testing import MockNode

    from sim_teleop.messages import TAKEOVER, decode_frame, encode_action, encode_control

    monkeypatch.setenv("SIM_VIEWER", "0")

    def ev(input_id: str, value: pa.Array, meta: dict | None = None) -> dict:
        return {"type": "INPUT", "id": input_id, "value": value, "metadata": meta or {}}

    tick = ev("tick", pa.array([0]))
    early = ev("tick", pa.array([0]), {TAKEOVER: True})
    human = ev("action_human", encode_action([0.0, 0.05, 0.0, 0.0]), {TAKEOVER: True})
    stop = [ev("control", encode_control("stop")), tick]
    # The takeover's tick came first: no frame for it until the person's action is there, then at once.
    node = MockNode([tick, tick, early, human, tick, *stop])
    load_node("sim").main(node)
    frames = [decode_frame(v) for v in node.outputs["frame"]]
    assert [f.intervention for f in frames] == [False, False, True, True]
    # A takeover tick whose action never came (or drove nothing) is replaced by the grid's next tick.
    node = MockNode([tick, tick, early, tick, *stop])
    load_node("sim").main(node)
    assert [decode_frame(v).intervention for v in node.outputs["frame"]] == [False, False, False]


def test_a_takeover_that_continues_an_older_frame_than_the_newest_is_refused() -> None:
    """The keys' first target is the frame they saw; when the policy has stepped since (the action
    crossed a tick), taking it would jump back a step: the sim waits for one from its newest frame."""
    from sim_teleop.sim.env import SimEnv
    from sim_teleop.sim.runner import SimConfig, SimRunner

    clock = Clock()
    sim = SimEnv(image_obs=False)
    try:
        runner = SimRunner(sim, SimConfig(time_limit_s=100), clock=clock)
        frames = []
        for i in range(4):
            clock.t = 0.1 * i
            runner.set_action(np.array([0.01 * i, 0.0, 0.0, 0.0], np.float32), answers_tick=i)
            frames.append(runner.tick())
            runner.advance()
        newest = frames[-1]
        runner.set_human_action(frames[-2].action, continues_tick=frames[-2].tick_index)
        assert runner.stale_takeovers == 1 and not runner.handover.human
        runner.set_human_action(newest.action, continues_tick=newest.tick_index)
        assert runner.handover.human
        clock.t = 0.4
        taken = runner.tick()
        assert taken.intervention and np.allclose(taken.action, newest.action)
        runner.advance()
        # Once a person drives, their later actions continue their own target: no check.
        runner.set_human_action(newest.action, continues_tick=newest.tick_index)
        assert runner.stale_takeovers == 1
    finally:
        sim.close()


def test_the_keyboards_takeover_actions_say_which_frame_they_continue() -> None:
    from sim_teleop.messages import TAKEOVER, TICK

    clock = Clock()
    teleop = KeyboardTeleop(clock=clock)
    takeover = KeyboardTakeover(teleop)
    last = np.array([0.05, 0.02, 0.01, 0.0], np.float32)
    seen = dataclasses.replace(_running(3, last), tick_index=7)
    takeover.on_frame(seen)
    clock.t = 0.03
    teleop.press("left")
    assert takeover.on_idle(seen) is not None
    assert takeover.metadata() == {TICK: 7, TAKEOVER: True}
    crossed = dataclasses.replace(_running(4, last), tick_index=8)  # the policy stepped meanwhile
    clock.t = 0.05
    takeover.on_frame(crossed)
    assert takeover.metadata() == {TICK: 8}  # the same takeover, from the newest frame
