"""Small recorded datasets for the review page's tests: real lerobot, fake sim frames, chosen reports."""

from __future__ import annotations

import os
from pathlib import Path

from recorder_fakes import ScriptedSim, episode_frames

from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder

os.environ["HF_HUB_OFFLINE"] = "1"
REPO_ID = "test/review"

# (frames, score, reasons, sub-scores, success): two with `jitter`, one `dark`, two good.
EPISODES: list[tuple[int, float, list[str], dict[str, float], bool]] = [
    (14, 0.95, [], {"jitter": 0.97, "idle": 0.9, "front.dark": 1.0}, True),
    (10, 0.30, ["jitter"], {"jitter": 0.2, "idle": 0.8, "front.dark": 1.0}, True),
    (12, 0.40, ["idle", "jitter"], {"jitter": 0.4, "idle": 0.1, "front.dark": 1.0}, False),
    (8, 0.60, ["dark"], {"jitter": 0.9, "idle": 0.9, "front.dark": 0.0}, True),
    (10, 0.90, [], {"jitter": 0.95, "idle": 0.85, "front.dark": 1.0}, True),
]


def make_cfg(root: Path, **kw: object) -> RecordConfig:
    return RecordConfig.from_dict({"repo_id": REPO_ID, "root": str(root), "rerun": "off", **kw})


def report(i: int, spec: tuple[int, float, list[str], dict[str, float], bool]) -> QualityReport:
    n, score, reasons, subs, success = spec
    verdict = Verdict.BAD if reasons else Verdict.GOOD
    return QualityReport(i, score, verdict, list(reasons), {}, dict(subs), success, n)


def feed(rec: Recorder, sim: ScriptedSim, spec: tuple) -> None:
    """One kept attempt through the recorder, its report after its frames (as the scorer sends it,
    numbered by the sim's attempt)."""
    frames = episode_frames(sim, spec[0])
    for frame in frames:
        rec.on_frame(frame)
    rec.on_quality(report(frames[0].episode_index, spec))


def record_dataset(root: Path, episodes: list[tuple] = EPISODES) -> Path:
    rec = Recorder(make_cfg(root, num_episodes=len(episodes) + 5), expects_quality=True, log=lambda _: None)
    sim = ScriptedSim()
    for spec in episodes:
        feed(rec, sim, spec)
    rec.close()
    return root
