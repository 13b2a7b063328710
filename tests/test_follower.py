"""The episode follower: frames as the sim stamps them in, typed episode events out."""

from __future__ import annotations

from frames import frame

from sim_teleop.follower import Ended, EpisodeFollower, Event, Settled, Started, Step
from sim_teleop.messages import EndReason, Frame, Phase

RUN, DONE, RESET = Phase.RUNNING, Phase.DONE, Phase.RESETTING
NONE = EndReason.NONE


def feed(follower: EpisodeFollower, frames: list[Frame], finish: bool = False) -> list[Event]:
    out: list[Event] = [ev for f in frames for ev in follower.feed(f)]
    return out + (follower.finish() if finish else [])


def brief(events: list[Event]) -> list[tuple]:
    """Events without frames: Step becomes ("step", episode, frame_index)."""
    out: list[tuple] = []
    for ev in events:
        if isinstance(ev, Step):
            out.append(("step", ev.episode, ev.frame.frame_index))
        elif isinstance(ev, Started):
            out.append(("started", ev.episode, ev.partial))
        elif isinstance(ev, Ended):
            out.append(("ended", ev.episode, ev.reason, ev.num_frames, ev.missing_frames))
        else:
            out.append(("settled", ev.episode, ev.reason, ev.kept))
    return out


def test_a_success_starts_steps_ends_on_its_frame_and_settles_on_resetting() -> None:
    f = EpisodeFollower()
    frames = [frame(0, RUN, 0), frame(0, RUN, 1), frame(0, RUN, 2, EndReason.SUCCESS)]
    assert brief(feed(f, frames)) == [
        ("started", 0, False),
        ("step", 0, 0),
        ("step", 0, 1),
        ("step", 0, 2),
        ("ended", 0, EndReason.SUCCESS, 3, 0),
    ]
    assert f.open_reason is EndReason.SUCCESS and f.recording(0)
    assert feed(f, [frame(0, DONE, 0, EndReason.SUCCESS)]) == []  # done frames: no padding, no event
    settled = feed(f, [frame(0, RESET, 0, EndReason.SUCCESS), frame(0, RESET, 1, EndReason.SUCCESS)])
    assert settled == [Settled(0, EndReason.SUCCESS, True, 3)]
    assert f.open_reason is NONE and not f.recording(0)


def test_space_ends_on_the_first_done_frame_and_ctrl_during_done_discards() -> None:
    f = EpisodeFollower()
    events = feed(f, [frame(0, RUN, 0), frame(0, RUN, 1), frame(0, DONE, 0, EndReason.NEXT)])
    assert brief(events)[-1] == ("ended", 0, EndReason.NEXT, 2, 0)
    events = feed(f, [frame(0, DONE, 1, EndReason.RERECORD), frame(0, RESET, 0, EndReason.RERECORD)])
    assert events == [Settled(0, EndReason.RERECORD, False, 2, why="end reason rerecord")]


def test_each_end_reason_keeps_or_discards() -> None:
    for reason in (EndReason.SUCCESS, EndReason.TIME_LIMIT, EndReason.FAILURE, EndReason.NEXT):
        f = EpisodeFollower()
        events = feed(f, [frame(0, RUN, 0, reason), frame(0, RESET, 0, reason)])
        assert isinstance(events[-1], Settled) and events[-1].kept and events[-1].reason is reason
    f = EpisodeFollower()
    events = feed(f, [frame(0, RUN, 0), frame(0, RESET, 0, EndReason.RERECORD)])  # Ctrl while running
    assert brief(events)[-2:] == [
        ("ended", 0, EndReason.RERECORD, 1, 0),
        ("settled", 0, EndReason.RERECORD, False),
    ]


def test_new_attempt_settles_the_previous_one_and_stream_end_settles_the_open_one() -> None:
    f = EpisodeFollower()
    events = feed(
        f, [frame(0, RUN, 0, EndReason.SUCCESS), frame(0, DONE, 0, EndReason.SUCCESS), frame(1, RUN, 0)]
    )
    assert brief(events)[-3:] == [
        ("settled", 0, EndReason.SUCCESS, True),
        ("started", 1, False),
        ("step", 1, 0),
    ]
    events = feed(f, [frame(2, RUN, 0)])  # attempt 1 never ended
    assert events[0] == Settled(1, NONE, False, 1, why="it never ended")
    assert feed(f, [], finish=True) == [
        Settled(2, NONE, False, 1, why="stream ended while it was running (partial)")
    ]
    assert f.finish() == []


def test_duplicates_and_out_of_order_frames_are_skipped_and_gaps_counted() -> None:
    f = EpisodeFollower()
    frames = [frame(0, RUN, 0), frame(0, RUN, 2), frame(0, RUN, 2), frame(0, RUN, 1)]
    frames += [frame(0, RUN, 3, EndReason.TIME_LIMIT), frame(0, RUN, 4)]  # a running frame after the end
    events = feed(f, frames)
    assert [e[2] for e in brief(events) if e[0] == "step"] == [0, 2, 3]
    assert brief(events)[-1] == ("ended", 0, EndReason.TIME_LIMIT, 3, 1)
    assert isinstance(events[-1], Ended) and events[-1].steps == 4
    events = feed(f, [frame(1, RUN, 0), frame(0, RESET, 0, EndReason.TIME_LIMIT), frame(0, RUN, 4)])
    assert brief(events) == [
        ("settled", 0, EndReason.TIME_LIMIT, True),
        ("started", 1, False),
        ("step", 1, 0),
    ]
    assert f.stats.duplicated == 3 and f.stats.dropped == 1 and f.stats.recorded == 4
    assert f.stats.received == 9  # the two late frames of the settled attempt 0 were ignored


def test_an_attempt_joined_mid_run_is_started_for_controllers_but_never_delivered() -> None:
    f = EpisodeFollower()
    frames = [frame(0, DONE, 0, EndReason.NEXT), frame(0, RESET, 0, EndReason.NEXT)]  # never seen running
    frames += [frame(1, RUN, 5), frame(1, RUN, 6, EndReason.SUCCESS), frame(1, RESET, 0, EndReason.SUCCESS)]
    events = feed(f, frames)
    assert brief(events) == [("started", 1, True)]
    assert f.stats.skipped_attempts == [1] and f.stats.recorded == 0
    assert not f.recording(1) and f.open_reason is NONE


def _seq(f: Frame, tick: int, missed: int = 0) -> Frame:
    f.tick_index, f.ticks_missed = tick, missed
    return f


def test_frames_and_attempts_lost_in_transit_are_counted_from_the_sims_sequence() -> None:
    """Ticks the sim skipped itself (`ticks_missed`) are not losses; frames it sent that never arrived
    are, and so are attempts none of whose start arrived."""
    f = EpisodeFollower()
    frames = [_seq(frame(1, RUN, 0), 0), _seq(frame(1, RUN, 0), 0)]  # the first frame, then the grid restart
    frames += [_seq(frame(1, RUN, 1), 1), _seq(frame(1, RUN, 2), 4, missed=2)]  # the sim skipped 2 ticks
    feed(f, frames)
    assert f.stats.lost_in_transit == 0 and f.stats.lost_attempts == []
    # A stalled link: the rest of attempt 1, attempts 2 and 3 and the start of 4 never arrive.
    events = feed(f, [_seq(frame(4, RUN, 7), 80, missed=2)])
    assert f.stats.lost_in_transit == 80 - 2 - 2 - 1
    assert f.stats.lost_attempts == [2, 3, 4]
    assert ("settled", 1, NONE, False) in brief(events)  # named: it never ended
