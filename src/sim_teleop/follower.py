"""The one reading of the sim's episode stamps: frames in, typed episode events out.

The sim owns episode state (see `sim_teleop.sim.episode_state`) and stamps it on every frame; the
recorder, scorer, eval and the controllers all need it back as events, so they all feed an
`EpisodeFollower` and keep only their own concern. Events, in the order frames arrive:

- `Started(episode)`: the first running frame of a new attempt. An attempt first seen in the middle of
  its run (the follower joined late) is `partial`: controllers still drive it, but it yields no
  further events, since an episode without its start is never recorded, scored or counted.
- `Step(episode, frame, stalled)`: a running frame of the attempt (the one carrying the end reason,
  e.g. the success frame, included). `done` and `resetting` frames never are: no padding. `stalled`:
  it came more than one tick after the attempt's previous one (a loaded sim skipped ticks).
- `Ended(episode, reason)`: the first non-empty end reason (on the last running frame, or on the first
  done frame when the operator pressed Space). A later `rerecord` (Ctrl during done) can still
  discard the attempt: only `Settled` is final.
- `Settled(episode, kept)`: on the attempt's first `resetting` frame, when a newer attempt shows up
  first (a sim that went done -> resetting -> running within one tick emits no resetting frame), or
  at `finish()` (end of stream: an attempt in `done` with a saved reason is kept, one still running
  is the partial episode of an Esc and is discarded).

Frame accounting is kept honest: a gap in a running attempt's `frame_index` is counted as missing (and
said by `Ended`/`Settled`, so it is never saved silently), a repeated or older frame as a duplicate
(skipped, never delivered twice). Frames lost in any phase (a stalled or cut-off link between daemons:
backpressure does not cross machines) show as gaps in the sim's own frame sequence (`tick_index -
ticks_missed`: the frames it emitted before this one) and are counted in `lost_in_transit`; attempts none
of whose start arrived are listed in `lost_attempts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim_teleop.messages import EndReason, Frame, Phase


@dataclass(frozen=True, slots=True)
class Started:
    episode: int
    partial: bool = False  # joined mid-run: followed, but no Step/Ended/Settled will come for it


@dataclass(frozen=True, slots=True)
class Step:
    episode: int
    frame: Frame
    # More than one tick since the attempt's previous step (`tick_index`): a loaded sim skipped ticks,
    # or a frame was lost; a keyboard's target moved through every one of them.
    stalled: bool = False


@dataclass(frozen=True, slots=True)
class Ended:
    episode: int
    reason: EndReason
    num_frames: int  # running frames delivered as `Step`
    missing_frames: int = 0  # running frames that never arrived (a gap in frame_index)

    @property
    def steps(self) -> int:
        """Running frames the sim emitted for the attempt, delivered or not."""
        return self.num_frames + self.missing_frames


@dataclass(frozen=True, slots=True)
class Settled:
    episode: int
    reason: EndReason  # the final one (NONE: it never ended)
    kept: bool  # whether the dataset keeps it
    num_frames: int
    missing_frames: int = 0
    why: str = ""  # why it is not kept


Event = Started | Step | Ended | Settled


@dataclass(slots=True)
class _Attempt:
    index: int
    partial: bool
    frames: int = 0
    next_frame_index: int = 0
    missing: int = 0
    end_reason: EndReason = EndReason.NONE
    last_tick: int | None = None  # tick index of the latest step


@dataclass(slots=True)
class FrameStats:
    received: int = 0
    recorded: int = 0  # frames delivered as `Step`
    dropped: int = 0  # gaps in frame_index inside a followed attempt
    duplicated: int = 0  # repeated/out-of-order frames, skipped
    skipped_attempts: list[int] = field(default_factory=list)  # partial ones
    lost_in_transit: int = 0  # frames the sim emitted that never arrived (gaps in its frame sequence)
    lost_attempts: list[int] = field(default_factory=list)  # attempts whose start never arrived


class EpisodeFollower:
    """Feed frames in arrival order with `feed`; call `finish` when the stream ends."""

    def __init__(self) -> None:
        self._current: _Attempt | None = None
        self._settled: set[int] = set()  # attempts already settled (or never seen running)
        self._last_seq: int | None = None  # the sim's sequence number of the newest frame received
        self._last_attempt: int | None = None  # the newest attempt index received
        self.stats = FrameStats()

    def recording(self, episode: int) -> bool:
        """Whether `episode` is the open attempt and its frames are delivered (not partial)."""
        cur = self._current
        return cur is not None and cur.index == episode and not cur.partial

    @property
    def open_reason(self) -> EndReason:
        """End reason of the open (ended but not yet settled) attempt; NONE when none is open."""
        cur = self._current
        return cur.end_reason if cur is not None and not cur.partial else EndReason.NONE

    def feed(self, frame: Frame) -> list[Event]:
        self.stats.received += 1
        self._count_lost(frame)
        out: list[Event] = []
        cur = self._attempt_for(frame, out)
        if cur is None:
            return out
        if frame.phase is Phase.RUNNING:
            self._running(cur, frame, out)
        elif frame.phase is Phase.DONE:
            if cur.end_reason is EndReason.NONE or frame.end_reason is EndReason.RERECORD:
                self._end(cur, frame.end_reason or EndReason.NEXT, out)
        else:  # RESETTING: the attempt is over for good
            if frame.end_reason is EndReason.RERECORD or cur.end_reason is EndReason.NONE:
                self._end(cur, frame.end_reason or EndReason.RERECORD, out)
            out += self._settle(cur, at_stream_end=False)
        return out

    def _count_lost(self, frame: Frame) -> None:
        """Gaps in the sim's frame sequence and in its attempt numbers: what never arrived."""
        seq = frame.seq
        if self._last_seq is not None and seq > self._last_seq + 1:
            self.stats.lost_in_transit += seq - self._last_seq - 1
        self._last_seq = seq if self._last_seq is None else max(self._last_seq, seq)
        idx = frame.episode_index
        if self._last_attempt is not None and idx > self._last_attempt + 1:
            self.stats.lost_attempts += range(self._last_attempt + 1, idx)
        self._last_attempt = idx if self._last_attempt is None else max(self._last_attempt, idx)

    def count_tail_loss(self, sim_last_seq: int) -> int:
        """Frames after the last one received that the sim says it emitted (`LAST_FRAME`): lost at the
        end of the stream. Counted in `lost_in_transit`; returns how many."""
        lost = sim_last_seq - (self._last_seq if self._last_seq is not None else -1)
        if lost <= 0:
            return 0
        self.stats.lost_in_transit += lost
        self._last_seq = sim_last_seq
        return lost

    def finish(self) -> list[Event]:
        """The stream ended (Esc, or the sim stopped/crashed): settle the open attempt."""
        if self._current is None:
            return []
        return self._settle(self._current, at_stream_end=True)

    def _attempt_for(self, frame: Frame, out: list[Event]) -> _Attempt | None:
        """The attempt this frame belongs to (settling or starting one), or None to ignore the frame."""
        idx = frame.episode_index
        cur = self._current
        if cur is not None and cur.index == idx:
            return cur
        if idx in self._settled:
            return None  # late frames of an attempt already settled (done/resetting tail)
        if cur is not None:
            if idx < cur.index:
                self.stats.duplicated += 1
                return None
            out += self._settle(cur, at_stream_end=False)
        if frame.phase is not Phase.RUNNING:
            # Done/resetting of an attempt we never saw run (e.g. the first frames after a start).
            self._settled.add(idx)
            return None
        cur = self._current = _Attempt(idx, partial=frame.frame_index != 0)
        if cur.partial:
            self.stats.skipped_attempts.append(idx)
            if self.stats.received > 1:  # not the first frame this follower saw: its start was lost
                self.stats.lost_attempts.append(idx)
        out.append(Started(idx, cur.partial))
        return cur

    def _running(self, cur: _Attempt, frame: Frame, out: list[Event]) -> None:
        if cur.end_reason is not EndReason.NONE or frame.frame_index < cur.next_frame_index:
            self.stats.duplicated += 1  # repeated, older, or after the end frame: never padded in
            return
        if not cur.partial:
            gap = frame.frame_index - cur.next_frame_index
            cur.missing += gap
            self.stats.dropped += gap
            cur.frames += 1
            self.stats.recorded += 1
            stalled = cur.last_tick is not None and frame.tick_index - cur.last_tick > 1
            cur.last_tick = frame.tick_index
            out.append(Step(cur.index, frame, stalled))
        cur.next_frame_index = frame.frame_index + 1
        if frame.end_reason is not EndReason.NONE:
            self._end(cur, frame.end_reason, out)

    def _end(self, cur: _Attempt, reason: EndReason, out: list[Event]) -> None:
        first = cur.end_reason is EndReason.NONE
        cur.end_reason = reason
        if first and not cur.partial:
            out.append(Ended(cur.index, reason, cur.frames, cur.missing))

    def _settle(self, cur: _Attempt, at_stream_end: bool) -> list[Event]:
        self._current = None
        self._settled.add(cur.index)
        if cur.partial:
            return []
        reason = cur.end_reason
        why = ""
        if reason is EndReason.NONE:
            why = "stream ended while it was running (partial)" if at_stream_end else "it never ended"
        elif not reason.saved:
            why = f"end reason {reason.value}"
        elif cur.frames == 0:
            why = "no running frames"
        return [Settled(cur.index, reason, not why, cur.frames, cur.missing, why)]
