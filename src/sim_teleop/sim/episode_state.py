"""The episode state machine, owned by the sim node: the one place that decides episode boundaries.

running --(success | failure | time limit | next)--> done --(next)--> resetting --(next)--> running
running/done --(rerecord)--> resetting (attempt discarded);  any --(stop)--> stopped
With `wait_for_start` the machine begins in resetting (of the attempt before the first), so the
operator's first `next` starts attempt `first_episode`.

Every frame the sim emits is stamped with `episode_index`, `phase` and `end_reason` from here.
An attempt keeps its index through done and resetting; the next attempt gets index + 1 when it starts
running. The frame on which an attempt ends carries its end reason (a success frame is still a
`running` frame and is recorded); later frames of the same attempt repeat that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim_teleop.messages import Control, EndReason, Phase


@dataclass(frozen=True, slots=True)
class Effect:
    """What the sim must do after a transition."""

    reset_env: bool = False  # sample a new scene and reset the robot (entering resetting)
    start_episode: bool = False  # the held action goes back to neutral, the clock restarts
    stop: bool = False


class EpisodeStateMachine:
    def __init__(self, max_steps: int, first_episode: int = 0, wait_for_start: bool = False) -> None:
        """`first_episode`: episodes a resumed dataset already holds. Attempt indices and the saved count
        start there, so placements and everything seeded per attempt continue the earlier sessions'
        sequence instead of repeating it.

        `wait_for_start`: begin as if the attempt before `first_episode` were resetting, so the first
        attempt runs only on `next` (an operator starts when ready, not at start-up)."""
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if first_episode < 0:
            raise ValueError(f"first_episode must be >= 0, got {first_episode}")
        self.max_steps = max_steps
        self.phase = Phase.RUNNING
        self.episode_index = first_episode
        self.steps = 0  # running frames emitted in the current attempt
        self.end_reason = EndReason.NONE
        self.saved_episodes = first_episode  # attempts that ended with a reason that keeps them
        self.stopped = False
        if wait_for_start:
            self.phase = Phase.RESETTING
            self.episode_index = first_episode - 1

    def control(self, command: Control) -> Effect:
        """Apply an operator/runner command; commands that make no sense in a phase are ignored."""
        if self.stopped:
            return Effect()
        if command is Control.STOP:
            self.stopped = True
            return Effect(stop=True)
        if command is Control.RERECORD:
            if self.phase is Phase.RESETTING:
                return Effect()
            if self.phase is Phase.DONE and self.end_reason.saved:
                # The attempt was already handed over as finished; keep it, just reset.
                self.saved_episodes -= 1
            self.end_reason = EndReason.RERECORD
            self.phase = Phase.RESETTING
            return Effect(reset_env=True)
        # Control.NEXT
        if self.phase is Phase.RUNNING:
            self._finish(EndReason.NEXT)
            return Effect()
        if self.phase is Phase.DONE:
            self.phase = Phase.RESETTING
            return Effect(reset_env=True)
        self.phase = Phase.RUNNING
        self.episode_index += 1
        self.steps = 0
        self.end_reason = EndReason.NONE
        return Effect(start_episode=True)

    def on_running_frame(self, success: bool, failure: bool = False) -> EndReason:
        """Count one emitted `running` frame; end the attempt on success, failure or time limit.

        Returns the end reason stamped on this frame (NONE while the attempt goes on). An attempt holds
        at most `max_steps` frames; the env is stepped after a frame only while the attempt runs on.
        """
        if self.phase is not Phase.RUNNING or self.stopped:
            raise RuntimeError(f"running frame emitted in phase {self.phase}")
        self.steps += 1
        if success:
            self._finish(EndReason.SUCCESS)
        elif failure:
            self._finish(EndReason.FAILURE)
        elif self.steps >= self.max_steps:
            self._finish(EndReason.TIME_LIMIT)
        return self.end_reason

    def _finish(self, reason: EndReason) -> None:
        self.end_reason = reason
        self.phase = Phase.DONE
        self.saved_episodes += 1
