"""`drop`: largest fall of the cube from its highest lifted point (privileged cube pose), or the TCP lift
above the grasp height at which a closed gripper re-opened (works without the cube pose, offline)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from sim_teleop.quality import needs
from sim_teleop.quality.family import FAMILIES, Family, Kind, Source
from sim_teleop.quality.frame import GripEvent

if TYPE_CHECKING:
    from sim_teleop.quality.frame import FrameFacts, MeterSetup


@FAMILIES.register(
    Family(
        name="drop",
        kind=Kind.MOTION,
        sources=(Source("drop", 0.015),),  # height (m) the held cube fell, or TCP lift (m) where it opened
        weight=1.0,
        raw_keys=("drop_release_lift", "drop_cube_fall", "drop"),
        needs=needs.tcp_and_gripper,
        thresholds={"drop_min_lift": 0.01},  # m: the cube (or TCP) must have been lifted this much to count
    )
)
class DropMeter:
    """`drop`: the cube's largest fall from its highest lifted point (privileged cube pose), or the TCP
    lift above the grasp height at which a closed gripper re-opened (works offline, without the cube)."""

    __slots__ = ("close_z", "cube_fall", "cube_max", "cube_z0", "min_lift", "release_lift")

    def __init__(self, th: Mapping[str, float]) -> None:
        self.min_lift = th["drop_min_lift"]
        self.close_z = 0.0
        self.release_lift = 0.0
        self.cube_z0: float | None = None
        self.cube_max = -math.inf
        self.cube_fall = 0.0

    def grasp(self, z: float) -> None:
        self.close_z = z

    def release(self, z: float) -> None:
        lift = z - self.close_z
        if lift >= self.min_lift:
            self.release_lift = max(self.release_lift, lift)

    def add_cube(self, cube_pose: np.ndarray | None) -> None:
        if cube_pose is None or len(cube_pose) < 3 or not math.isfinite(float(cube_pose[2])):
            return
        z = float(cube_pose[2])
        if self.cube_z0 is None:
            self.cube_z0 = z
        self.cube_max = max(self.cube_max, z)
        if self.cube_max - self.cube_z0 >= self.min_lift:
            self.cube_fall = max(self.cube_fall, self.cube_max - z)

    def raw(self) -> dict[str, float]:
        return {
            "drop_release_lift": self.release_lift,
            "drop_cube_fall": self.cube_fall,
            "drop": max(self.release_lift, self.cube_fall),
        }

    ORDER = 60

    @classmethod
    def build(cls, setup: MeterSetup) -> DropMeter:
        return cls(setup.th)

    def update(self, f: FrameFacts) -> None:
        if f.grip_event is not None:
            z = float(f.p[2]) if f.p is not None else 0.0
            if f.grip_event is GripEvent.CLOSED:
                self.grasp(z)
            else:
                self.release(z)
        self.add_cube(f.cube_pose)
