"""Meters for defects of the recording itself, not of the demonstration: each names its own cause.

A flaky transport or logger damages a good demonstration in ways the motion metrics would misread, so
each defect has a family of its own: `telemetry_freeze` (`families.telemetry_freeze`), `gap` (frame
numbers that skip, rows that hold two frames of motion: `families.gap`), `lag` (actions stored shifted
against the states: `families.lag`), and the command's one-frame spike, part of `spike`
(`families.command_spike`). Every meter is O(1) per frame (the lag meter O(max_lag)) with constant
memory. This module keeps the names they were first imported by.
"""

from sim_teleop.quality.families.command_spike import CommandSpikeMeter
from sim_teleop.quality.families.gap import GapMeter, JumpMeter
from sim_teleop.quality.families.lag import LagMeter
from sim_teleop.quality.families.telemetry_freeze import FreezeMeter
from sim_teleop.quality.shared import Median3, norm

__all__ = ["CommandSpikeMeter", "FreezeMeter", "GapMeter", "JumpMeter", "LagMeter", "Median3", "norm"]
