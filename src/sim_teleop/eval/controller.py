"""The policy node's per-frame decision in an eval: act, reset, or advance the episode loop.

Driven only by the frames' stamps (no dora, no model): when the policy acts, when it starts afresh
(a new attempt, or control handed back after a person's takeover) and which command goes to the sim.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim_teleop.control.advance import RESEND_AFTER, AutoAdvance
from sim_teleop.follower import EpisodeFollower, Started
from sim_teleop.messages import Control, EndReason, Frame, Phase


@dataclass(slots=True)
class Decision:
    """What the policy node does with one frame."""

    reset: bool = False  # a new attempt started running: reset the policy first
    act: bool = False  # the attempt is running: an action is due
    control: Control | None = None  # command to send to the sim, if any


class EvalController:
    """The policy node's per-frame decision, driven only by the frames' stamps (no dora).

    Acts on every running frame until the attempt's end frame, resets the policy when the follower
    starts a new attempt, and leaves next/stop/resend to the shared `AutoAdvance`.
    """

    def __init__(self, episodes: int, resend_after: int = RESEND_AFTER) -> None:
        self.follower = EpisodeFollower()
        self.advance = AutoAdvance(episodes, resend_after)
        self.taken_over = False  # a person drove since the policy last acted in this attempt

    @property
    def saved_episodes(self) -> int:
        """Kept episodes, counting the open attempt once it has ended with a reason that keeps it."""
        return self.advance.kept + self.follower.open_reason.saved

    @property
    def episodes(self) -> int:
        return self.advance.episodes

    @property
    def stop_sent(self) -> bool:
        return self.advance.stop_sent

    def on_frame(self, frame: Frame) -> Decision:
        """While a person drives (`frame.intervention`) the policy is not asked; on the first frame it
        drives again it starts afresh (action queue / temporal ensemble cleared), like a new attempt:
        its old plan was made for a scene the person has changed."""
        events = self.follower.feed(frame)
        started = any(isinstance(ev, Started) for ev in events)
        handed_back = self.taken_over and not frame.intervention and not started
        if started or handed_back:
            self.taken_over = False
        self.taken_over = self.taken_over or frame.intervention
        return Decision(
            reset=started or handed_back,
            act=frame.phase is Phase.RUNNING
            and frame.end_reason is EndReason.NONE
            and not frame.intervention,
            control=self.advance.on_frame(frame, events),
        )
