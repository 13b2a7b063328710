"""The recorder's rules for which frames become which episode, through the `EpisodeFollower` it feeds
(Started opens an episode, Step adds a frame, Settled commits or discards it); no dora, no lerobot."""

from __future__ import annotations

import numpy as np
from recorder_fakes import ScriptedSim, episode_frames

from sim_teleop.follower import Ended, EpisodeFollower, Settled, Started, Step
from sim_teleop.messages import Control, EndReason, Phase


def run(frames, finish: bool = True):
    tracker = EpisodeFollower()
    out = []
    for f in frames:
        out += tracker.feed(f)
    if finish:
        out += tracker.finish()
    return tracker, out


def kinds(events) -> list[tuple[str, int]]:
    """What the recorder's writer does: Start (open), Commit (kept) or Discard, per attempt."""
    names = []
    for ev in events:
        if isinstance(ev, Started) and not ev.partial:
            names.append(("Start", ev.episode))
        elif isinstance(ev, Settled):
            names.append(("Commit" if ev.kept else "Discard", ev.episode))
    return names


def commits(events) -> list[Settled]:
    return [ev for ev in events if isinstance(ev, Settled) and ev.kept]


def test_space_saves_ctrl_discards_and_only_running_frames_are_added() -> None:
    sim = ScriptedSim()
    frames = episode_frames(sim, 6) + episode_frames(sim, 4, end="rerecord") + episode_frames(sim, 5)
    tracker, out = run(frames)
    assert kinds(out) == [
        ("Start", 0),
        ("Commit", 0),
        ("Start", 1),
        ("Discard", 1),
        ("Start", 2),
        ("Commit", 2),
    ]
    kept = commits(out)
    assert [c.num_frames for c in kept] == [6, 5]
    assert all(c.reason is EndReason.NEXT for c in kept)
    added = [d.frame for d in out if isinstance(d, Step)]
    assert all(f.phase is Phase.RUNNING for f in added)
    assert [f.frame_index for f in added if f.episode_index == 0] == list(range(6))
    assert tracker.stats.dropped == tracker.stats.duplicated == 0


def test_commit_waits_for_resetting_and_rerecord_during_done_discards() -> None:
    sim = ScriptedSim()
    tracker = EpisodeFollower()
    out = [d for _ in range(3) for d in tracker.feed(sim.tick())]
    sim.control(Control.NEXT)  # running -> done
    done = sim.tick()
    assert done.phase is Phase.DONE
    out += tracker.feed(done)
    assert not any(isinstance(d, Settled) for d in out), "must not commit before resetting"
    assert [(d.episode, d.reason) for d in out if isinstance(d, Ended)] == [(0, EndReason.NEXT)]
    sim.control(Control.RERECORD)  # the operator changes their mind during done
    out += tracker.feed(sim.tick())
    assert kinds(out) == [("Start", 0), ("Discard", 0)]


def test_success_frame_is_recorded_and_done_frames_are_not_padded() -> None:
    sim = ScriptedSim(success_at=4)
    frames = [sim.tick() for _ in range(8)]  # 5 running frames (the 5th carries success), then done
    sim.control(Control.NEXT)
    frames += [sim.tick() for _ in range(2)]
    _, out = run(frames)
    commit = commits(out)[0]
    assert commit.reason is EndReason.SUCCESS
    added = [d.frame for d in out if isinstance(d, Step)]
    assert len(added) == commit.num_frames == 5
    assert added[-1].success and added[-1].end_reason is EndReason.SUCCESS


def test_stream_end_keeps_finished_episode_in_done_and_drops_partial_one() -> None:
    sim = ScriptedSim()
    frames = [sim.tick() for _ in range(3)]
    sim.control(Control.NEXT)
    frames.append(sim.tick())  # done: finished, operator pressed Esc before resetting
    _, out = run(frames)
    assert kinds(out) == [("Start", 0), ("Commit", 0)]

    sim2 = ScriptedSim()
    _, out2 = run(episode_frames(sim2, 4) + [sim2.tick() for _ in range(3)])  # Esc while running
    assert kinds(out2) == [("Start", 0), ("Commit", 0), ("Start", 1), ("Discard", 1)]


def test_gaps_duplicates_and_late_join_are_counted_not_papered_over() -> None:
    sim = ScriptedSim()
    frames = episode_frames(sim, 8)
    running = [f for f in frames if f.phase is Phase.RUNNING]
    rest = [f for f in frames if f.phase is not Phase.RUNNING]
    lossy = running[:3] + running[4:6] + [running[5]] + running[6:] + rest  # frame 3 lost, frame 5 twice
    tracker, out = run(lossy)
    assert tracker.stats.dropped == 1 and tracker.stats.duplicated == 1
    assert commits(out)[0].num_frames == 7 and commits(out)[0].missing_frames == 1

    sim2 = ScriptedSim()
    late = episode_frames(sim2, 6)[2:] + episode_frames(sim2, 3)  # joined attempt 0 mid-run
    tracker2, out2 = run(late)
    assert tracker2.stats.skipped_attempts == [0]
    assert kinds(out2) == [("Start", 1), ("Commit", 1)]


def test_new_attempt_without_resetting_frame_settles_previous_one() -> None:
    sim = ScriptedSim()
    frames = [sim.tick(np.zeros(4, np.float32)) for _ in range(3)]
    sim.control(Control.NEXT)
    frames.append(sim.tick())  # done
    sim.control(Control.NEXT)
    sim.control(Control.NEXT)  # resetting and running within one tick: no resetting frame emitted
    frames += [sim.tick() for _ in range(2)]
    _, out = run(frames, finish=False)
    assert kinds(out) == [("Start", 0), ("Commit", 0), ("Start", 1)]
    assert isinstance(out[-1], Step | Started)
    assert Started(1) in out
