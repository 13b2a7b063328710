"""Who drives each tick of an eval: the policy, or a person who took over. The sim owns the decision.

Rule: a person's action (the keyboard sends one per frame only while a motion or gripper key is held, or
its motion is still being paid out) takes control at once; control goes back to the policy once no
person's action has come for `release_s` (1 s: the keys have all been let go that long).

Why not a toggle key (lerobot-rollout's DAgger mode) or "hold a key to intervene" (gym-hil)? A toggle
is one more key to remember and to forget: a person who stops typing still owns the robot, which then
stands still while the eval's clock runs. gym-hil's separate intervention key confused its users
(gym-hil#18), because the motion keys did nothing until another key was held too. Here the keys that
move the robot are the keys that take it: pressing one is the intent. The 1 s of grace keeps a person
in control between two key strokes (reading the scene, switching from an arrow to Shift) without a
handover in each gap, and is short enough that a person who is done sees the policy resume at once.

Continuity: the policy's answers to frames before it got control back are dropped (they were computed
from a scene the person has since changed), and until its first fresh answer the sim holds the person's
last target, so neither handover makes the target jump.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

RELEASE_S = 1.0
"""Seconds without a person's action after which the policy drives again."""


class Handover:
    """Holds both controllers' latest actions and says, per tick, which one the sim applies.

    `clock` is the sim's (a fake one in tests). `say` gets one line at each handover. `release_ticks`:
    the ticks the sim must also have stepped without a person's action before it hands back. A sim
    starved by a loaded machine can handle its next tick more than `release_s` after the person's last
    action while their newer ones wait in its queue; the wall clock alone then handed control back for
    a tick in the middle of a takeover (seen once in CI: an intervention flag off mid-correction).
    """

    def __init__(
        self,
        neutral: np.ndarray,
        release_s: float = RELEASE_S,
        clock: Callable[[], float] = time.monotonic,
        say: Callable[[str], None] | None = None,
        release_ticks: int = 0,
    ) -> None:
        self.release_s = release_s
        self.release_ticks = release_ticks
        self.quiet_ticks = 0  # ticks stepped since the person's last action
        self.clock = clock
        self.say = say if say is not None else (lambda _line: None)
        self.neutral = np.asarray(neutral, np.float32).copy()
        self.policy_action = self.neutral.copy()
        self.human_action: np.ndarray | None = None
        self.human = False  # a person drives now
        self.last_human_at = -np.inf
        self.fresh_from_tick: int | None = None  # policy answers to earlier frames are stale
        self.takeovers = 0

    def reset(self) -> None:
        """A new attempt: the policy drives from the neutral action; a person must press again."""
        self.policy_action = self.neutral.copy()
        self.human_action = None
        self.human = False
        self.last_human_at = -np.inf
        self.fresh_from_tick = None

    def on_policy(self, action: np.ndarray, answers_tick: int | None) -> None:
        """The policy's latest action; ignored while a person drives, and after a handback until it
        answers a frame the policy drove (`answers_tick`, when the policy stamps its actions)."""
        if self.human:
            return
        if (
            self.fresh_from_tick is not None
            and answers_tick is not None
            and answers_tick < self.fresh_from_tick
        ):
            return
        self.policy_action = np.asarray(action, np.float32).copy()

    def on_human(self, action: np.ndarray, where: str = "") -> None:
        """A person's action: they drive from now on (one line when they take over)."""
        self.human_action = np.asarray(action, np.float32).copy()
        self.last_human_at = self.clock()
        self.quiet_ticks = 0
        if not self.human:
            self.human = True
            self.takeovers += 1
            self.say(
                f"a person took over{where}: keys drive now; the policy gets control back "
                f"{self.release_s:g} s after the last key is let go"
            )

    def drive(self, tick_index: int, where: str = "") -> tuple[np.ndarray, bool]:
        """The action for this tick and whether a person drives it (the frame's `intervention`)."""
        quiet = self.quiet_ticks >= self.release_ticks
        if self.human and quiet and self.clock() - self.last_human_at >= self.release_s:
            self.human = False
            # Hold the person's last target until the policy answers a frame it drives itself.
            if self.human_action is not None:
                self.policy_action = self.human_action.copy()
            self.fresh_from_tick = tick_index
            self.say(f"keys released for {self.release_s:g} s: the policy drives again{where}")
        if self.human and self.human_action is not None:
            self.quiet_ticks += 1
            return self.human_action.copy(), True
        return self.policy_action.copy(), False
