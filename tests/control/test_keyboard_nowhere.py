"""No terminal and no display (a service, CI): `dora run dataflow-record.yaml` ends by itself, non-zero,
with one line from the keyboard saying why, and records nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.dataflow


def test_the_record_flow_without_terminal_or_display_ends_non_zero_recording_nothing(
    tmp_path: Path, dora_env: dict[str, str]
) -> None:
    root = tmp_path / "dataset"
    env = {**dora_env, "RECORD_ROOT": str(root)}
    env.pop("DISPLAY", None)
    proc = subprocess.run(
        ["dora", "run", str(REPO / "dataflow-record.yaml")],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        start_new_session=True,  # no controlling terminal, as under a service manager
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    said = [line for line in out.splitlines() if "[keyboard] error:" in line and "terminal" in line]
    assert said, out[-3000:]
    assert not root.exists() or not any(root.iterdir()), sorted(p.name for p in root.iterdir())
