"""Helpers for the recorder's dataflow tests: YAML variants of dataflow-record.yaml and dataset checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import PROBE_NODE, REPO, every_frame

CONTROLLER_NODE = REPO / "tests" / "dora_nodes" / "script_controller.py"


def record_flow(
    tmp: Path, probe: Path, script: str | None = None, with_scorer: bool = True, name: str = "flow.yaml"
) -> Path:
    """dataflow-record.yaml with absolute paths, a frame probe, and (with `script`) the keyboard replaced
    by the scripted controller."""
    spec = yaml.safe_load((REPO / "dataflow-record.yaml").read_text())
    nodes = {n["id"]: n for n in spec["nodes"]}
    if script is not None:
        kb = nodes["keyboard"]
        kb["path"] = str(CONTROLLER_NODE)
        kb["inputs"]["frame"] = every_frame()
        kb["env"] = {"SCRIPT": script}
        nodes["sim"].get("env", {}).pop("SIM_WAIT_FOR_START", None)  # a script starts at once
    if not with_scorer:
        spec["nodes"] = [n for n in spec["nodes"] if n["id"] != "scorer"]
        nodes["sim"]["inputs"].pop("scorer_quality")
        nodes["recorder"]["inputs"] = {"frame": every_frame()}
    spec["nodes"].append(
        {
            "id": "probe",
            "path": str(PROBE_NODE),
            "inputs": {"frame": every_frame()},
            "env": {"PROBE_OUT": str(probe)},
        }
    )
    out = tmp / name
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def run_flow(flow: Path, env: dict[str, str], log: Path, timeout: float = 150) -> int:
    with log.open("w") as fh:
        proc = subprocess.run(
            ["dora", "run", str(flow)],
            cwd=flow.parent,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return proc.returncode


def saved_attempt_actions(rows: list[dict], attempts: list[int]) -> list[list[list[float]]]:
    """Per saved attempt (sim attempt index), the actions of its running frames as the probe saw them."""
    return [
        [r["action"] for r in rows if r["phase"] == "running" and r["episode_index"] == a] for a in attempts
    ]


def load_dataset(repo_id: str, root: Path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from lerobot.datasets import LeRobotDataset

    return LeRobotDataset(repo_id, root=root)


def video_frame_counts(root: Path, ds) -> dict[str, int]:
    """Frames decoded from every video file, per camera (must equal the parquet rows)."""
    import av

    counts: dict[str, int] = {}
    for key in ds.meta.video_keys:
        total = 0
        for path in sorted((root / "videos" / key).rglob("*.mp4")):
            with av.open(str(path)) as container:
                total += sum(1 for _ in container.decode(video=0))
        counts[key] = total
    return counts


def run_delete(root: Path, repo_id: str, indices: str) -> subprocess.CompletedProcess:
    """Run `scripts/delete_episodes.py` on a dataset, as a user would."""
    return run_script(
        "delete_episodes.py", "--repo_id", repo_id, "--root", str(root), "--episode_indices", indices
    )


def run_script(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of `scripts/` as a user would (offline), capturing its output."""
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
