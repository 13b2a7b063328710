"""The sim's episode state machine: every transition in its module docstring."""

from __future__ import annotations

from sim_teleop.messages import Control, EndReason, Phase
from sim_teleop.sim.episode_state import EpisodeStateMachine


def test_success_then_next_next_starts_new_episode() -> None:
    m = EpisodeStateMachine(max_steps=100)
    assert m.on_running_frame(False) is EndReason.NONE
    assert m.on_running_frame(True) is EndReason.SUCCESS
    assert (m.phase, m.episode_index, m.saved_episodes) == (Phase.DONE, 0, 1)
    assert m.control(Control.NEXT).reset_env
    assert m.phase is Phase.RESETTING and m.end_reason is EndReason.SUCCESS and m.episode_index == 0
    effect = m.control(Control.NEXT)
    assert effect.start_episode and not effect.reset_env
    assert (m.phase, m.episode_index, m.steps, m.end_reason) == (Phase.RUNNING, 1, 0, EndReason.NONE)


def test_time_limit_and_failure() -> None:
    m = EpisodeStateMachine(max_steps=3)
    assert [m.on_running_frame(False) for _ in range(3)][-1] is EndReason.TIME_LIMIT
    assert m.phase is Phase.DONE
    m2 = EpisodeStateMachine(max_steps=3)
    assert m2.on_running_frame(False, failure=True) is EndReason.FAILURE


def test_next_while_running_finishes_early() -> None:
    m = EpisodeStateMachine(max_steps=100)
    m.on_running_frame(False)
    m.control(Control.NEXT)
    assert (m.phase, m.end_reason, m.saved_episodes) == (Phase.DONE, EndReason.NEXT, 1)


def test_rerecord_discards_from_running_and_done() -> None:
    m = EpisodeStateMachine(max_steps=100)
    m.on_running_frame(False)
    assert m.control(Control.RERECORD).reset_env
    assert (m.phase, m.end_reason, m.saved_episodes) == (Phase.RESETTING, EndReason.RERECORD, 0)
    assert not m.control(Control.RERECORD).reset_env  # ignored while resetting
    m.control(Control.NEXT)
    assert m.episode_index == 1 and m.phase is Phase.RUNNING
    m.on_running_frame(True)
    assert m.saved_episodes == 1
    m.control(Control.RERECORD)  # the operator rejects a finished attempt during done
    assert (m.end_reason, m.saved_episodes) == (EndReason.RERECORD, 0)


def test_stop_from_any_phase_and_ignores_later_commands() -> None:
    for setup in ([], [Control.NEXT], [Control.NEXT, Control.NEXT]):
        m = EpisodeStateMachine(max_steps=10)
        for command in setup:
            m.control(command)
        assert m.control(Control.STOP).stop and m.stopped
        phase = m.phase
        assert m.control(Control.NEXT) == type(m.control(Control.NEXT))()
        assert m.phase is phase


def test_a_resumed_session_continues_attempt_and_placement_numbering() -> None:
    m = EpisodeStateMachine(max_steps=5, first_episode=7)
    assert (m.episode_index, m.saved_episodes) == (7, 7)
    m.control(Control.NEXT)  # finish attempt 7
    m.control(Control.NEXT)  # resetting: the sim resets to placement saved_episodes
    assert m.saved_episodes == 8
    m.control(Control.NEXT)
    assert m.episode_index == 8


def test_wait_for_start_runs_the_first_attempt_only_on_next() -> None:
    m = EpisodeStateMachine(max_steps=5, first_episode=3, wait_for_start=True)
    assert (m.phase, m.episode_index, m.end_reason) == (Phase.RESETTING, 2, EndReason.NONE)
    assert m.control(Control.RERECORD).reset_env is False  # nothing to discard while waiting
    effect = m.control(Control.NEXT)
    assert effect.start_episode and not effect.reset_env
    assert (m.phase, m.episode_index, m.saved_episodes) == (Phase.RUNNING, 3, 3)
