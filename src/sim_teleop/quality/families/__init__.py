"""Every metric family, one module each, registered in `family.FAMILIES` as they are imported.

The import order below is the families' order: the order of sub-scores in a report (the motion families,
the camera families per camera, then the recording's integrity), so the aggregate sums them in the same
order, and of the "not computed" line. Meters that serve a family declared elsewhere (`command_spike`,
the jump meter in `gap`, `joints`) register themselves too; meters run in their own `ORDER`.
"""

from types import ModuleType

# isort: off
from sim_teleop.quality.families import jitter
from sim_teleop.quality.families import idle
from sim_teleop.quality.families import spike
from sim_teleop.quality.families import saturation
from sim_teleop.quality.families import gripper
from sim_teleop.quality.families import drop
from sim_teleop.quality.families import crawl
from sim_teleop.quality.families import detour
from sim_teleop.quality.families import path
from sim_teleop.quality.families import camera
from sim_teleop.quality.families import telemetry_freeze
from sim_teleop.quality.families import command_spike
from sim_teleop.quality.families import gap
from sim_teleop.quality.families import lag
from sim_teleop.quality import joints

# isort: on
from sim_teleop.quality.family import FAMILIES as FAMILIES

MODULES: tuple[ModuleType, ...] = (jitter, idle, spike, saturation, gripper, drop, crawl, detour, path)
MODULES += (camera, telemetry_freeze, command_spike, gap, lag, joints)
"""The modules that declare the families and their meters, in declaration order."""
