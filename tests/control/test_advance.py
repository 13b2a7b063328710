"""The shared auto-advance: next through done and resetting, stop at N kept episodes, resend when ignored."""

from __future__ import annotations

import pytest
from frames import frame

from sim_teleop.control.advance import RESEND_AFTER, AutoAdvance
from sim_teleop.follower import EpisodeFollower
from sim_teleop.messages import Control, EndReason, Frame, Phase

RUN, DONE, RESET = Phase.RUNNING, Phase.DONE, Phase.RESETTING


def drive(advance: AutoAdvance, frames: list[Frame]) -> list[tuple[int, str, int, Control]]:
    follower = EpisodeFollower()
    out = []
    for f in frames:
        command = advance.on_frame(f, follower.feed(f))
        if command is not None:
            out.append((f.episode_index, f.phase.value, f.frame_index, command))
    return out


def test_next_on_the_end_frame_and_on_resetting_then_stop_after_n_kept() -> None:
    a = AutoAdvance(episodes=2)
    frames = [frame(0, RUN, 0), frame(0, RUN, 1, EndReason.SUCCESS), frame(0, DONE, 0, EndReason.SUCCESS)]
    frames += [frame(0, RESET, 0, EndReason.SUCCESS), frame(0, RESET, 1, EndReason.SUCCESS)]
    frames += [frame(1, RUN, 0), frame(1, DONE, 0, EndReason.NEXT), frame(1, RESET, 0, EndReason.NEXT)]
    assert drive(a, frames) == [
        (0, "running", 1, Control.NEXT),
        (0, "resetting", 0, Control.NEXT),
        (1, "done", 0, Control.NEXT),  # the end frame was lost: the first done frame carries the reason
        (1, "resetting", 0, Control.STOP),
    ]
    assert a.kept == 2 and a.stop_sent


def test_a_rerecorded_attempt_does_not_count() -> None:
    a = AutoAdvance(episodes=1)
    frames = [frame(0, RUN, 0, EndReason.SUCCESS), frame(0, DONE, 0, EndReason.RERECORD)]
    frames += [frame(0, RESET, 0, EndReason.RERECORD)]
    assert drive(a, frames)[-1] == (0, "resetting", 0, Control.NEXT)
    assert a.kept == 0 and not a.stop_sent


def test_an_ignored_command_is_resent_every_resend_after_frames() -> None:
    a = AutoAdvance(episodes=1, resend_after=3)
    frames = [frame(0, RUN, 0, EndReason.SUCCESS)] + [frame(0, DONE, i, EndReason.SUCCESS) for i in range(7)]
    assert [f for _, phase, f, _ in drive(a, frames) if phase == "done"] == [2, 5]
    assert AutoAdvance(1).resend_after == RESEND_AFTER


def test_finished_only_while_resetting_after_the_last_kept_episode() -> None:
    a = AutoAdvance(episodes=1)
    a.observe(EpisodeFollower().feed(frame(0, RUN, 0, EndReason.SUCCESS)))
    assert a.kept == 0 and not a.finished(frame(0, RESET, 0, EndReason.SUCCESS))
    follower = EpisodeFollower()
    for f in (frame(0, RUN, 0, EndReason.SUCCESS), frame(0, RESET, 0, EndReason.SUCCESS)):
        a.observe(follower.feed(f))
    assert a.finished(frame(0, RESET, 0, EndReason.SUCCESS)) and not a.finished(frame(1, RUN, 0))


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        AutoAdvance(0)
    with pytest.raises(ValueError):
        AutoAdvance(1, resend_after=0)
