"""Which sim frames become dataset episodes: a pure follower of the phases the sim stamps on frames.

The sim owns episode state (see `sim_teleop.sim.episode_state`); this module only reads it back off the frame
stream and turns it into four decisions for the writer: `Start` an episode, `Add` a frame to it,
`Commit` it (save) or `Discard` it. Rules, in the order frames arrive:

- `running` frames of an attempt are its episode's frames (the frame that carries the end reason, e.g.
  the success frame, included). `done` and `resetting` frames are never recorded: no padding.
- The attempt's end reason is the first non-empty one seen (on its last running frame, or on its first
  done frame when the operator pressed Space). An attempt is committed on its first `resetting` frame
  when the reason keeps it (`EndReason.saved`), discarded when it is `rerecord` (Ctrl during running
  or done). The commit waits for `resetting` because the operator may still re-record during `done`.
- A new attempt index while the previous attempt is still open settles the previous one first (a sim
  that went done -> resetting -> running within one tick emits no resetting frame).
- End of stream (`finish()`): an attempt in `done` with a saved reason is committed; one still running
  (no end reason yet) is the partial episode of an Esc and is discarded.

Frame accounting is kept honest: a gap in a running attempt's `frame_index` is counted as dropped (and
the attempt's `Commit` says how many of its frames are missing, so it is never saved silently), a
repeated or older index as a duplicate (skipped, never written twice), and an attempt first seen in the
middle of its run is skipped whole (the recorder joined late) rather than saved without its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim_teleop.messages import EndReason, Frame, Phase


@dataclass(frozen=True, slots=True)
class Start:
    attempt: int


@dataclass(frozen=True, slots=True)
class Add:
    attempt: int
    frame: Frame


@dataclass(frozen=True, slots=True)
class Commit:
    attempt: int
    end_reason: EndReason
    num_frames: int
    missing_frames: int = 0  # running frames that never arrived (a gap in frame_index)


@dataclass(frozen=True, slots=True)
class Discard:
    attempt: int
    why: str


Decision = Start | Add | Commit | Discard


@dataclass(slots=True)
class _Attempt:
    index: int
    frames: int = 0
    next_frame_index: int = 0
    missing: int = 0  # gaps in frame_index: frames lost on the way (e.g. between machines)
    end_reason: EndReason = EndReason.NONE
    skipped: bool = False  # joined mid-run: followed but never recorded


@dataclass(slots=True)
class FrameStats:
    received: int = 0
    recorded: int = 0
    dropped: int = 0  # gaps in frame_index inside a recorded attempt
    duplicated: int = 0  # repeated/out-of-order frames, skipped
    skipped_attempts: list[int] = field(default_factory=list)


class EpisodeTracker:
    """Feed frames in arrival order with `feed`; call `finish` when the stream ends."""

    def __init__(self) -> None:
        self.current: _Attempt | None = None
        self.settled: set[int] = set()  # attempts already committed/discarded/skipped
        self.stats = FrameStats()

    def feed(self, frame: Frame) -> list[Decision]:
        self.stats.received += 1
        out: list[Decision] = []
        idx = frame.episode_index
        cur = self.current
        if idx in self.settled and (cur is None or cur.index != idx):
            return out  # late frames of an attempt already settled (done/resetting tail)
        if cur is not None and cur.index != idx:
            if idx < cur.index:
                self.stats.duplicated += 1
                return out
            out += self._settle(cur, at_stream_end=False)
            cur = None
        if cur is None:
            if frame.phase is not Phase.RUNNING:
                # Done/resetting of an attempt we never saw run (e.g. the first frames after a start).
                self.settled.add(idx)
                return out
            cur = self.current = _Attempt(idx)
            if frame.frame_index != 0:
                cur.skipped = True
                self.stats.skipped_attempts.append(idx)
            else:
                out.append(Start(idx))

        if frame.phase is Phase.RUNNING:
            if cur.end_reason is not EndReason.NONE:
                self.stats.duplicated += 1  # running frames after the end frame: never padded in
                return out
            if frame.frame_index < cur.next_frame_index:
                self.stats.duplicated += 1
                return out
            if not cur.skipped:
                cur.missing += frame.frame_index - cur.next_frame_index
                self.stats.dropped += frame.frame_index - cur.next_frame_index
                out.append(Add(idx, frame))
                cur.frames += 1
                self.stats.recorded += 1
            cur.next_frame_index = frame.frame_index + 1
            if frame.end_reason is not EndReason.NONE:
                cur.end_reason = frame.end_reason
        elif frame.phase is Phase.DONE:
            if cur.end_reason is EndReason.NONE or frame.end_reason is EndReason.RERECORD:
                cur.end_reason = frame.end_reason or EndReason.NEXT
        else:  # RESETTING: the attempt is over for good
            if frame.end_reason is EndReason.RERECORD or cur.end_reason is EndReason.NONE:
                cur.end_reason = frame.end_reason or EndReason.RERECORD
            out += self._settle(cur, at_stream_end=False)
        return out

    def finish(self) -> list[Decision]:
        """The stream ended (Esc, or the sim stopped/crashed): settle the open attempt."""
        if self.current is None:
            return []
        return self._settle(self.current, at_stream_end=True)

    def _settle(self, cur: _Attempt, at_stream_end: bool) -> list[Decision]:
        self.current = None
        self.settled.add(cur.index)
        if cur.skipped:
            return []
        reason = cur.end_reason
        if reason is EndReason.NONE:
            why = "stream ended while it was running (partial)" if at_stream_end else "it never ended"
            return [Discard(cur.index, why)]
        if not reason.saved:
            return [Discard(cur.index, f"end reason {reason.value}")]
        if cur.frames == 0:
            return [Discard(cur.index, "no running frames")]
        return [Commit(cur.index, reason, cur.frames, cur.missing)]
