"""The keyboard's side of a takeover in the eval: an action goes out only while a person is engaged.

The sim decides who drives (sim_teleop.sim.handover); the keyboard only says, by sending or not, whether
a person is at the keys. Engaging starts from the last commanded target (`frame.action` of the latest
frame), so the first human action equals the policy's last one; keys held across an episode's end are
ignored until released, so they never take over the next attempt by accident.
"""

from __future__ import annotations

import numpy as np

from sim_teleop.control.teleop import KeyboardTeleop
from sim_teleop.messages import TAKEOVER, TICK, EndReason, Frame, Phase


class KeyboardTakeover:
    """Per frame: the action to send (None: send nothing) and lines for the console."""

    def __init__(self, teleop: KeyboardTeleop) -> None:
        self.teleop = teleop
        self.engaged = False
        # The last call returned the first action of a takeover while the sim still let the policy
        # drive: the eval's clock ticks at once on it (messages.TAKEOVER), so the person's first key
        # drives a tick within milliseconds instead of up to a period later.
        self.starting = False
        # The tick of the frame whose target the keys continue: the sim lets a takeover start only
        # from its newest frame, so a target the policy has already moved on from never makes it jump.
        self.base_tick: int | None = None
        self._warned: set[int] = set()  # attempts whose idle keys were already reported

    def on_frame(self, frame: Frame) -> tuple[np.ndarray | None, list[str]]:
        lines: list[str] = []
        self.starting = False
        if frame.phase is not Phase.RUNNING or frame.end_reason is not EndReason.NONE:
            ignored = self.teleop.ignore_held()
            if ignored and frame.episode_index not in self._warned:
                self._warned.add(frame.episode_index)
                lines.append(
                    f"{', '.join(ignored)} held while no attempt runs: ignored until released "
                    "(takeover keys act only during an attempt)"
                )
            self.teleop.reset()
            self.engaged = False
            return None, lines
        if not self.engaged and not self.teleop.engaged():
            return None, lines
        if not frame.intervention:
            # The sim has not switched to the keys yet (this frame's step is still the policy's): start
            # again from its newest target, so the first step the keys drive continues it exactly.
            self.teleop.rebase(np.asarray(frame.action, np.float32))
            self.base_tick = frame.tick_index
            self.starting = not self.engaged
        self.engaged = True
        action = self.teleop.action()
        if not self.teleop.engaged():  # this action paid out the last motion: let the sim's timer run
            self.engaged = False
        return action, lines

    def on_idle(self, latest: Frame | None) -> np.ndarray | None:
        """Between frames: the first action of a takeover the moment a key goes down (from the latest
        frame's target), so it drives the sim's next tick instead of the one after; None otherwise."""
        self.starting = False
        if self.engaged or latest is None or not self.teleop.engaged():
            return None
        if latest.phase is not Phase.RUNNING or latest.end_reason is not EndReason.NONE:
            return None
        self.teleop.rebase(np.asarray(latest.action, np.float32))
        self.base_tick = latest.tick_index
        self.engaged = True
        self.starting = not latest.intervention
        return self.teleop.action()

    def metadata(self) -> dict[str, object]:
        """For the action just returned: `TICK`, the frame its target continues (the sim refuses a
        takeover that starts from an older frame than its newest: the keys then start again from the
        next one), and `TAKEOVER` on a takeover's first action (the eval's clock ticks at once on it)."""
        meta: dict[str, object] = {}
        if self.base_tick is not None:
            meta[TICK] = self.base_tick
        if self.starting:
            meta[TAKEOVER] = True
        return meta
