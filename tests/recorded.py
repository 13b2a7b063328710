"""Datasets recorded through the real `Recorder` from scripted frames (no dora), and lerobot's view of
them: shared by the recorder, dataset and multi-machine tests."""

from __future__ import annotations

import os
from pathlib import Path

from recorder_fakes import ScriptedSim, episode_frames

from sim_teleop.dataset.features import build_features, frame_to_row
from sim_teleop.dataset.store import EpisodeWriter, VideoSettings
from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder

os.environ["HF_HUB_OFFLINE"] = "1"
REPO_ID = "test/rec"


def make_cfg(root: Path, **kw: object) -> RecordConfig:
    return RecordConfig.from_dict({"repo_id": REPO_ID, "root": str(root), "rerun": "off", **kw})


def record(
    cfg: RecordConfig,
    lengths: list[int],
    quality: dict[int, float] | None = None,
    expects_quality: bool = False,
    rerecord: tuple[int, ...] = (),
) -> tuple[Recorder, list[list]]:
    """Feed scripted episodes through a Recorder; returns it and the actions of each saved attempt."""
    logs: list[str] = []
    rec = Recorder(cfg, expects_quality=expects_quality, log=logs.append)
    sim = ScriptedSim()
    saved_actions = []
    for i, n in enumerate(lengths):
        frames = episode_frames(sim, n, "rerecord" if i in rerecord else "next")
        if i not in rerecord:
            saved_actions.append([f.action.tolist() for f in frames if f.phase.value == "running"])
        for f in frames:
            rec.on_frame(f)
            if (
                quality is not None
                and f.end_reason
                and f.phase.value == "done"
                and f.episode_index in quality
            ):
                rec.on_quality(
                    QualityReport(
                        f.episode_index,
                        score := quality[f.episode_index],
                        Verdict.GOOD if score >= 0.5 else Verdict.BAD,
                        num_frames=n,
                    )
                )
    rec.close()
    rec.logs = logs  # type: ignore[attr-defined]
    return rec, saved_actions


def load(root: Path):
    from lerobot.datasets import LeRobotDataset

    return LeRobotDataset(REPO_ID, root=root)


def lerobot_view(root: Path) -> tuple[int, int, int, int]:
    """(episodes info.json counts, frames it counts, episodes in meta.episodes, rows in hf_dataset):
    what a training run started now would see. All four agree on a consistent root."""
    ds = load(root)
    return ds.meta.total_episodes, ds.meta.total_frames, len(ds.meta.episodes), len(ds.hf_dataset)


def stage_episode(root: Path, frames: int) -> None:
    """An episode of `frames` running frames saved and finalized in the writer's stage of the dataset at
    `root`, not yet published: what a commit (`dataset.publish.publish`) makes part of the dataset."""
    writer = EpisodeWriter(REPO_ID, root, 10, build_features(), "pick", VideoSettings(), create=False)
    for f in episode_frames(ScriptedSim(), frames):
        if f.phase.value == "running":
            writer.add(frame_to_row(f, "pick", last=False))
    writer._ds.save_episode()
    writer._ds.finalize()
