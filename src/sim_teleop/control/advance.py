"""Auto-advance for unattended runs (expert recording, policy eval): what the keyboard operator would press.

Once an attempt has ended (its end frame, or its first done frame when that was lost): `next` (done ->
resetting), then on resetting `next` (-> the next attempt) or, once `episodes` kept episodes are
settled, `stop`. The decision on resetting frames uses the follower's `Settled` events, so an
operator's re-record during done discards the attempt and it does not count.

A command is sent once per (attempt, phase). If the sim is still in that phase `resend_after` frames
later (a lost or ignored command) it is sent again, rather than stalling the run forever.
"""

from __future__ import annotations

from collections.abc import Iterable

from sim_teleop.follower import Event, Settled
from sim_teleop.messages import Control, EndReason, Frame, Phase

RESEND_AFTER = 30
"""Frames in one done/resetting phase before its command is repeated: 3 s at 10 Hz. A command resent
while the sim is in fact already acting on the first one would land in the next phase, and a stray
`next` in the following attempt's run ends it early as a saved (short) episode. So the threshold must
stay well above the frames that can be in flight between sim and controller (queued frames behind a
slow policy step or a busy expert at fast ticks); 30 (the eval's) keeps that margin where the expert's
20 was tighter, and a genuinely lost command costs only one more second."""


class AutoAdvance:
    """Feed every frame with the follower's events for it; `on_frame` says which command to send."""

    def __init__(self, episodes: int, resend_after: int = RESEND_AFTER) -> None:
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        if resend_after < 1:
            raise ValueError(f"resend_after must be >= 1, got {resend_after}")
        self.episodes = episodes
        self.resend_after = resend_after
        self.kept = 0  # settled attempts the dataset keeps
        self.stop_sent = False
        self._waited: dict[tuple[int, Phase], int] = {}  # (attempt, phase) -> frames since its command

    def observe(self, events: Iterable[Event]) -> None:
        self.kept += sum(1 for ev in events if isinstance(ev, Settled) and ev.kept)

    def finished(self, frame: Frame) -> bool:
        """The sim is resetting after the last wanted episode: time to stop."""
        return frame.phase is Phase.RESETTING and self.kept >= self.episodes

    def on_frame(self, frame: Frame, events: Iterable[Event] = ()) -> Control | None:
        """The command this frame calls for, or None (still running, or sent and not yet due again)."""
        self.observe(events)
        if frame.phase is Phase.RUNNING and frame.end_reason is EndReason.NONE:
            return None
        # The end frame itself is running: it asks for what its done phase would.
        phase = Phase.DONE if frame.phase is Phase.RUNNING else frame.phase
        if not self._due((frame.episode_index, phase)):
            return None
        if self.finished(frame):
            self.stop_sent = True
            return Control.STOP
        return Control.NEXT

    def _due(self, key: tuple[int, Phase]) -> bool:
        waited = self._waited.get(key)
        if waited is not None and waited + 1 < self.resend_after:
            self._waited[key] = waited + 1
            return False
        self._waited[key] = 0
        return True
