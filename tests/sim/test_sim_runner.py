"""The sim node's tick logic against a real gym-hil env stepped in-process, and headless rendering."""

from __future__ import annotations

import numpy as np
import pytest

from sim_teleop.messages import STATE_GRIPPER, STATE_TCP, Control, EndReason, Phase
from sim_teleop.sim.clock import TickCounter
from sim_teleop.sim.env import ARRANGE_BOXES, MAX_STEP, SimEnv
from sim_teleop.sim.runner import SimConfig, SimRunner


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.1
        return self.t


@pytest.fixture(scope="module")
def physics_sim() -> SimEnv:
    return SimEnv(image_obs=False)


def test_absolute_target_is_reached_smoothly(physics_sim: SimEnv) -> None:
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100), clock=FakeClock())
    start = physics_sim.start_tcp.copy()
    runner.set_action(np.array([0.1, -0.05, 0.08, 0.0]))
    tcps = []
    for _ in range(30):
        frame = runner.tick()
        tcps.append(frame.state[STATE_TCP].copy())
        runner.advance()
    track = np.array(tcps)
    np.testing.assert_allclose(track[-1] - start, [0.1, -0.05, 0.08], atol=0.01)
    assert np.max(np.linalg.norm(np.diff(track, axis=0), axis=1)) <= MAX_STEP * 1.3  # rate limited


def test_state_reports_the_gripper_in_the_actions_unit(physics_sim: SimEnv) -> None:
    """The state's gripper follows the action's 0..1 (gym-hil reports 0..255; the sim rescales)."""
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100), clock=FakeClock())
    grips = []
    for target in (1.0, 0.0):
        runner.set_action(np.array([0.0, 0.0, 0.0, target]))
        for _ in range(3):
            runner.advance()
        grips.append(float(runner.tick().state[STATE_GRIPPER]))
    assert grips == pytest.approx([1.0, 0.0], abs=1e-3), grips


def test_targets_are_clamped_to_the_workspace(physics_sim: SimEnv) -> None:
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100), clock=FakeClock())
    runner.set_action(np.array([5.0, -5.0, 5.0, 7.0]))
    np.testing.assert_allclose(runner.action, [0.35, -0.35, 0.35, 1.0])


def test_phases_episode_indices_and_frozen_done(physics_sim: SimEnv) -> None:
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=0.3), clock=FakeClock())  # 3 frames
    frames = []
    for _ in range(5):
        frames.append(runner.tick())
        runner.advance()
    assert [f.phase for f in frames] == [Phase.RUNNING] * 3 + [Phase.DONE] * 2
    assert [f.frame_index for f in frames[:3]] == [0, 1, 2]
    assert frames[2].end_reason is EndReason.TIME_LIMIT and frames[4].end_reason is EndReason.TIME_LIMIT
    np.testing.assert_array_equal(frames[3].state, frames[4].state)  # done freezes the robot
    runner.control(Control.NEXT)
    resetting = runner.tick()
    assert resetting.phase is Phase.RESETTING and resetting.episode_index == 0
    runner.control(Control.NEXT)
    first = runner.tick()
    assert (first.phase, first.episode_index, first.frame_index) == (Phase.RUNNING, 1, 0)
    np.testing.assert_array_equal(first.action, np.zeros(4))


def test_placements_are_seeded_and_rerecord_retries_the_same_one() -> None:
    a, b = SimEnv(image_obs=False, seed=5), SimEnv(image_obs=False, seed=5)
    np.testing.assert_array_equal(a.reset(3).cube_pose, b.reset(3).cube_pose)
    assert not np.allclose(a.reset(3).cube_pose[:2], a.reset(4).cube_pose[:2])
    runner = SimRunner(a, SimConfig(time_limit_s=100), clock=FakeClock())
    cube0 = runner.tick().cube_pose.copy()
    runner.control(Control.RERECORD)
    np.testing.assert_array_equal(runner.tick().cube_pose, cube0)
    runner.control(Control.NEXT)
    runner.control(Control.NEXT)  # stray second next: attempt 1 is running; this one finishes it early
    runner.control(Control.NEXT)
    runner.control(Control.NEXT)
    assert not np.allclose(runner.tick().cube_pose[:2], cube0[:2])


def test_tick_counter_counts_missed_ticks() -> None:
    c = TickCounter(0.1)
    assert c.serve(10.0) == (0, 0)
    assert c.serve(10.1) == (1, 0)
    assert c.serve(10.42) == (4, 2)  # two ticks dropped while a step ran late
    assert c.serve(10.5) == (5, 2)
    start = TickCounter(0.1)  # after the first (slow) send, a queued tick arrives right behind the next
    assert start.serve(20.0) == (0, 0)
    assert start.serve(20.005) == (1, 0)  # a new index, not a duplicate
    assert start.serve(20.1) == (2, 0)


def test_headless_render_both_cameras_arrange_boxes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    sim = SimEnv()
    sim.reset(0)
    obs = sim.step(np.array([0.0, 0.0, -0.05, 0.0]))
    for img in (obs.front, obs.wrist):
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
        assert img.std() > 10  # not a constant image
    assert np.abs(obs.front.astype(int) - obs.wrist.astype(int)).mean() > 10
    sim.close()
    boxes = SimEnv(ARRANGE_BOXES)
    boxes.reset(0)
    obs = boxes.step(np.zeros(4))
    assert obs.front.std() > 10 and obs.state.shape == (18,)
    boxes.close()


def test_missed_ticks_follow_the_configured_tick_period(physics_sim: SimEnv) -> None:
    clock = FakeClock()  # advances 0.1 s per call
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100, tick_period_s=0.05), clock=clock)
    frames = [runner.tick() for _ in range(4)]
    assert [f.tick_index for f in frames] == [0, 2, 4, 6]  # a 50 ms tick served every 100 ms
    assert frames[-1].ticks_missed == 3


def test_steps_on_an_older_action_are_counted_as_late(physics_sim: SimEnv) -> None:
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100), clock=FakeClock())
    action = np.zeros(4, np.float32)
    frames = [runner.tick()]
    runner.advance()  # first step of the attempt: neutral action, never counted
    for _ in range(5):
        runner.set_action(action, answers_tick=frames[-1].tick_index)  # answers the frame just sent
        frames.append(runner.tick())
        runner.advance()
    assert (runner.answers.steps, runner.answers.late) == (5, 0)
    # an inference overruns: two ticks pass with the answer to an older frame
    for _ in range(2):
        frames.append(runner.tick())
        runner.advance()
    assert (runner.answers.steps, runner.answers.late) == (7, 2)  # both ran on the answer to frame 4
    runner.set_action(action, answers_tick=frames[-1].tick_index)  # caught up: answers the newest frame
    runner.tick()
    runner.advance()
    assert (runner.answers.steps, runner.answers.late) == (8, 2)


def test_unstamped_actions_get_no_summary(physics_sim: SimEnv) -> None:
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100), clock=FakeClock())
    for _ in range(4):
        runner.set_action(np.zeros(4, np.float32))  # the keyboard and the expert do not stamp
        runner.tick()
        runner.advance()
    assert runner.answers.summary(0.1) is None


def test_steps_before_the_first_stamped_answer_are_late(physics_sim: SimEnv) -> None:
    """A policy's first inference overruns several ticks: those steps ran on the neutral action."""
    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100), clock=FakeClock())
    frames = [runner.tick()]
    runner.advance()  # the attempt's first step: never counted
    for _ in range(3):  # no answer yet
        frames.append(runner.tick())
        runner.advance()
    runner.set_action(np.zeros(4, np.float32), answers_tick=frames[-1].tick_index)
    runner.tick()
    runner.advance()
    assert (runner.answers.steps, runner.answers.late) == (4, 3)
    line = runner.answers.summary(0.1)
    assert line is not None and line.startswith("4 controller steps: 1 on the answer")


def test_stale_ticks_are_skipped_and_the_grid_restarts_after_the_first_frame(physics_sim: SimEnv) -> None:
    from datetime import UTC, datetime, timedelta

    from sim_teleop.sim.runner import answered_tick

    runner = SimRunner(physics_sim, SimConfig(time_limit_s=100), clock=FakeClock())
    sent: list[int] = []
    now = datetime.now(UTC)
    runner.serve_tick(now - timedelta(seconds=1), lambda f: sent.append(f.tick_index))  # a period old: stale
    assert sent == [] and runner.first_frame
    runner.serve_tick(now, lambda f: sent.append(f.tick_index))
    runner.serve_tick(None, lambda f: sent.append(f.tick_index))  # unstamped ticks are served
    assert len(sent) == 2 and not runner.first_frame
    assert runner.ticks.served == 1  # counted again from the tick after the first frame
    assert (
        answered_tick({"tick": "7"}) == 7
        and answered_tick({"tick": "x"}) is None
        and answered_tick(None) is None
    )
    assert runner.answers.summary(0.1) is None  # nothing stamped: no line
    runner.answers.enabled, runner.answers.steps, runner.answers.late = True, 5, 2
    assert runner.answers.summary(0.1) == (
        "5 controller steps: 3 on the answer to the previous frame, 2 on an older action "
        "(inference overran the 100 ms tick)"
    )
