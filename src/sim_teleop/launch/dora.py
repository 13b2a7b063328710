"""The environment for launching `dora run` from Python (benchmarks, tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def run_dora(flow: Path, env: dict[str, str], cwd: Path, timeout_s: float) -> tuple[int, str, float]:
    """`dora run FLOW` to its end: (exit code, output, seconds); code 124 and the output so far on timeout."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            ["dora", "run", str(flow)], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s
        )
        rc, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out = 124, str(exc.stdout or "") + str(exc.stderr or "")
    return rc, out, time.perf_counter() - t0
