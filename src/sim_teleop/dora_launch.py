"""The environment for launching `dora run` from Python (benchmarks, tests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def dora_environment(**overrides: str) -> dict[str, str]:
    """This interpreter's venv active (dora picks the nodes' Python from it), headless, offline."""
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MUJOCO_GL", "PYOPENGL_PLATFORM")}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(bin_dir.parent),
        HF_HUB_OFFLINE="1",
        SIM_VIEWER="0",
        RECORD_RERUN="off",
    )
    env.update(overrides)
    return env
