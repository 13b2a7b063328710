"""`gripper_chatter`: total variation of the gripper command 0..1 minus the one stroke a pick needs (0 for
a clean pick). Its meter also follows the gripper's closed/open state, which it leaves in `FrameFacts` for
the drop and path meters (a close is the grasp, a re-open ends the carry and the approach)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.frame import GripEvent

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


@FAMILIES.register(
    Family(
        name="gripper_chatter",
        kind=Kind.MOTION,
        sources=(
            Source("gripper_chatter", 2.5),
        ),  # strokes beyond the one close of a pick (open<->close units)
        weight=1.0,
        raw_keys=("gripper_tv", "gripper_chatter"),
        needs=needs.gripper,
        thresholds={
            "idle_grip": 0.02,  # gripper command change per frame (0..1) that counts as a gripper change
            "grip_close": 0.6,  # gripper command above this = closed (hysteresis with grip_open)
            "grip_open": 0.4,
        },
    )
)
class GripperMeter:
    """`gripper_chatter`: total variation of the gripper command beyond the one stroke a pick needs.

    Also follows the closed/open state that the drop and path meters need: `add` says whether this
    frame closed or re-opened the gripper, `carrying` whether it has been closed for a few frames.
    """

    __slots__ = ("change", "close", "closed", "closed_frames", "open", "prev", "tv")

    def __init__(self, th: Mapping[str, float]) -> None:
        self.close = th["grip_close"]
        self.open = th["grip_open"]
        self.change = th["idle_grip"]
        self.prev: float | None = None
        self.tv = 0.0
        self.closed = False
        self.closed_frames = 0

    def changed(self, g: float | None) -> bool:
        """Whether `g` (not yet added) differs from the previous command by a real gripper change."""
        return g is not None and self.prev is not None and abs(g - self.prev) >= self.change

    @property
    def carrying(self) -> bool:
        """Closed for 3 frames or more: a grasp, not a chatter's flick."""
        return self.closed_frames >= 3

    def add(self, g: float) -> GripEvent | None:
        if self.prev is not None:
            self.tv += abs(g - self.prev)
        self.prev = g
        self.closed_frames = self.closed_frames + 1 if g >= self.close else 0
        if not self.closed and g >= self.close:
            self.closed = True
            return GripEvent.CLOSED
        if self.closed and g <= self.open:
            self.closed = False
            return GripEvent.OPENED
        return None

    def raw(self) -> dict[str, float]:
        return {"gripper_tv": self.tv, "gripper_chatter": max(0.0, self.tv - 1.0)}

    ORDER = 10  # first: the others read whether the gripper changed, closed or opened

    @classmethod
    def build(cls, setup: MeterSetup) -> GripperMeter:
        return cls(setup.th)

    def update(self, f: FrameFacts) -> None:
        f.grip_changed = self.changed(f.g)
        f.carrying = self.carrying  # before this frame's command: the path meter's carry
        f.grip_event = self.add(f.g) if f.g is not None else None
