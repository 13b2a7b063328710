"""A burst of 1000 actions in one tick: the sim ends up holding the newest, never an older one after it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_dataflow

pytestmark = pytest.mark.dataflow
BURST = 1000


def _sim_action_input() -> dict:
    """The sim's `action` input exactly as the dataflows declare it (dataflow-record.yaml)."""
    spec = yaml.safe_load((REPO / "dataflow-record.yaml").read_text())
    sim = next(n for n in spec["nodes"] if n["id"] == "sim")
    action = sim["inputs"]["action"]
    return {**action, "source": "burst/action"} if isinstance(action, dict) else {"source": "burst/action"}


ACTION_INPUT = _sim_action_input()


def test_newest_action_wins_after_a_burst(tmp_path: Path, dora_env: dict[str, str]) -> None:
    out = tmp_path / "held.jsonl"
    flow = {
        "nodes": [
            {
                "id": "sim",
                "path": "sim-teleop-sim",
                "inputs": {
                    "tick": {"source": "dora/timer/millis/100", "queue_size": 100},
                    "action": ACTION_INPUT,
                },
                "outputs": ["frame"],
            },
            {
                "id": "burst",
                "path": str(REPO / "tests" / "dora_nodes" / "action_burst.py"),
                "inputs": {"frame": {"source": "sim/frame", "queue_size": 100}},
                "outputs": ["action"],
                "env": {"BURST_OUT": str(out), "BURST": str(BURST)},
            },
        ]
    }
    path = tmp_path / "burst.yaml"
    path.write_text(yaml.safe_dump(flow, sort_keys=False))
    text = run_dataflow(path, dora_env, tmp_path / "dora.log", timeout=120, cwd=tmp_path)
    held = [json.loads(line)["x"] for line in out.read_text().splitlines()]
    newest = (BURST - 1) * 1e-4
    # The node stops 40 frames after the newest action first shows (or after 600 frames, then this fails).
    assert held[-40:] == pytest.approx([newest] * 40, abs=1e-6), (held[-40:], text[-2000:])
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(held)), held  # never an older one again
