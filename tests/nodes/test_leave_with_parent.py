"""A node whose daemon dies leaves too, instead of living on as an orphan holding the root's lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

NODE = """
import time
from sim_teleop.nodes.serve import leave_with_parent
leave_with_parent(poll_s=0.05)
print("ready", flush=True)
time.sleep(60)
"""
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=open(sys.argv[2], "w"))
print(child.pid, flush=True)
import time
while "ready" not in open(sys.argv[2]).read():
    time.sleep(0.05)
"""  # exits as soon as its child is ready: like a SIGKILLed daemon, it leaves an orphan


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie has left already


@pytest.mark.dataflow  # starts a Python subprocess
def test_a_node_leaves_within_a_second_of_its_parent(tmp_path: Path) -> None:
    out = tmp_path / "node.out"
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, NODE, str(out)], capture_output=True, text=True, timeout=60
    )
    assert parent.returncode == 0, parent.stderr
    pid = int(parent.stdout.split()[0])
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the orphaned node is still running"
