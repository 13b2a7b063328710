"""The recorder library with real lerobot, no dora: save, quality policy, resume, refusal, repair, delete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from recorder_fakes import ScriptedSim, episode_frames
from recorder_flows import run_delete

from sim_teleop.dataset_store import (
    DatasetError,
    build_features,
    compat_problems,
    dataset_files,
    needs_repair,
)
from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.recorder import RecordConfig, Recorder
from sim_teleop.settings import ConfigError
from sim_teleop.sidecar import EpisodeSidecar

os.environ["HF_HUB_OFFLINE"] = "1"
REPO = Path(__file__).resolve().parents[1]
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


# --- pure checks ------------------------------------------------------------------------------------


def test_compat_problems_name_what_differs() -> None:
    feats = build_features()
    info = {"fps": 10, "features": json.loads(json.dumps(feats))}
    assert compat_problems(info, 10, feats) == []
    assert any("fps" in p for p in compat_problems(info, 15, feats))
    small = build_features(image_shape=(64, 64, 3))
    assert any(p.startswith("image size") for p in compat_problems(info, 10, small))
    one_cam = build_features(cameras=("front",))
    assert any(p.startswith("cameras") for p in compat_problems(info, 10, one_cam))
    renamed = json.loads(json.dumps(feats))
    renamed["action"]["names"] = ["a", "b", "c", "d"]
    assert any("'action'" in p for p in compat_problems({"fps": 10, "features": renamed}, 10, feats))


def test_config_env_overrides_and_bad_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECORD_REPO_ID", "me/cubes")
    monkeypatch.setenv("RECORD_NUM_EPISODES", "7")
    monkeypatch.setenv("RESUME_RECORDING", "1")
    monkeypatch.setenv("RECORD_TASK", "lift it")
    cfg = RecordConfig.load(REPO / "configs" / "record.json")
    assert (cfg.repo_id, cfg.num_episodes, cfg.resume, cfg.task) == ("me/cubes", 7, True, "lift it")
    assert cfg.root == REPO / "outputs" / "record" / "cubes"
    assert cfg.video.codec == "libsvtav1" and cfg.fps == 10
    monkeypatch.setenv("RECORD_NUM_EPISODES", "zero")
    with pytest.raises(ConfigError, match="RECORD_NUM_EPISODES"):
        RecordConfig.load(REPO / "configs" / "record.json")
    monkeypatch.delenv("RECORD_NUM_EPISODES")
    with pytest.raises(ConfigError, match="unknown key"):
        RecordConfig.from_dict({"num_episode": 3})
    with pytest.raises(ConfigError, match="policy"):
        RecordConfig.from_dict({"quality": {"policy": "drop"}})


# --- with lerobot -------------------------------------------------------------------------------------


def test_saved_episodes_load_with_their_frames_reports_and_annotations(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    cfg = make_cfg(root, num_episodes=10)
    logs: list[str] = []
    rec = Recorder(cfg, expects_quality=True, log=logs.append)
    sim = ScriptedSim()
    sent = []
    for i, n in enumerate([7, 4, 5]):
        frames = episode_frames(sim, n, "rerecord" if i == 1 else "next")
        if i != 1:
            sent.append([f.action.tolist() for f in frames if f.phase.value == "running"])
        rec.on_annotation({"episode_index": i, "defects": ["jitter"] if i == 2 else []})
        for f in frames:
            rec.on_frame(f)  # reports arrive *after* the commit frames: the writer must wait, not block
        if i != 1:
            rec.on_quality(QualityReport(i, 0.25 * (i + 1), Verdict.GOOD, num_frames=n))
    rec.close()

    ds = load(root)
    assert ds.meta.total_episodes == 2 and list(ds.meta.episodes["length"]) == [7, 5]
    actions = np.stack([ds[i]["action"].numpy() for i in range(len(ds))])
    np.testing.assert_allclose(actions, np.array(sent[0] + sent[1], np.float32))
    done = [bool(ds[i]["next.done"]) for i in range(len(ds))]
    assert done == [False] * 6 + [True] + [False] * 4 + [True]
    # Images round-trip through the video (grey level 7 * step, lossy codec).
    assert abs(float(ds[3]["observation.images.front"].mean()) * 255 - 21) < 4
    side = EpisodeSidecar(root)
    assert side.get(0)["quality"]["score"] == 0.25 and side.get(0)["sim_episode_index"] == 0
    assert side.get(1)["quality"]["score"] == 0.75 and side.get(1)["annotation"] == {"defects": ["jitter"]}
    assert not needs_repair(root)


def test_discard_policy_drops_low_scores_and_missing_report_times_out_loudly(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    cfg = make_cfg(root, num_episodes=10, quality={"policy": "discard", "timeout_s": 0.5})
    rec, _ = record(cfg, [4, 5, 6], quality={0: 0.9, 1: 0.2}, expects_quality=True)
    assert rec.discarded_by_policy == [1]
    assert rec.saved_without_report == [1]  # attempt 2 got no report: saved after the timeout as episode 1
    assert any("WITHOUT" in line for line in rec.logs)  # type: ignore[attr-defined]
    ds = load(root)
    assert list(ds.meta.episodes["length"]) == [4, 6]
    assert EpisodeSidecar(root).get(1)["quality"] is None


def test_existing_root_is_never_overwritten_and_incompatible_resume_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=5), [4, 3])
    before = dataset_files(root)
    with pytest.raises(DatasetError, match=r"RESUME_RECORDING=1.*RECORD_ROOT"):
        Recorder(make_cfg(root), expects_quality=False, log=print)
    with pytest.raises(DatasetError, match="fps"):
        Recorder(make_cfg(root, resume=True, fps=15), expects_quality=False, log=print)
    info = json.loads((root / "meta" / "info.json").read_text())
    info["features"]["observation.images.wrist"]["shape"] = [96, 96, 3]
    other = tmp_path / "other"
    other.mkdir()
    (other / "meta").mkdir()
    (other / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(DatasetError, match="image size"):
        Recorder(make_cfg(other, resume=True), expects_quality=False, log=print)
    assert dataset_files(root) == before


def test_resume_appends_only_missing_episodes(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=3), [4, 3])
    rec, _ = record(make_cfg(root, num_episodes=3, resume=True), [5, 6])
    assert rec.initial_episodes == 2 and rec.saved == 3
    ds = load(root)
    assert list(ds.meta.episodes["length"]) == [4, 3, 5]  # the 4th attempt was not needed
    assert list(ds.meta.episodes["episode_index"]) == [0, 1, 2]


CRASH_SCRIPT = r"""
import os, sys
sys.path.insert(0, {tests!r})
os.environ["HF_HUB_OFFLINE"] = "1"
from recorder_fakes import ScriptedSim, episode_frames
from sim_teleop.recorder import RecordConfig, Recorder
cfg = RecordConfig.from_dict({{"repo_id": "test/rec", "root": {root!r}, "rerun": "off", "num_episodes": 9,
                              "resume": True, "writer": "inline"}})
rec = Recorder(cfg, expects_quality=False, log=print)
w = rec.writer
real_commit = type(w).commit
def killed_mid_commit(self):
    from sim_teleop.dataset_store import begin_commit
    begin_commit(self.root, self.num_episodes)
    self._ds.save_episode()          # data + metadata half written, never finalized
    os._exit(9)                      # like SIGKILL: no finalizers, no atexit
w.commit = killed_mid_commit.__get__(w)
sim = ScriptedSim()
for f in episode_frames(sim, 5):
    rec.on_frame(f)
"""


def test_kill_during_commit_is_rolled_back_and_resume_continues(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=9), [4, 3])
    script = CRASH_SCRIPT.format(tests=str(Path(__file__).parent), root=str(root))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr[-2000:]
    assert needs_repair(root)
    rec, _ = record(make_cfg(root, num_episodes=3, resume=True), [6])
    assert any("rolled back" in line for line in rec.logs)  # type: ignore[attr-defined]
    ds = load(root)
    assert list(ds.meta.episodes["length"]) == [4, 3, 6]
    assert sorted(EpisodeSidecar(root).records) == [0, 1, 2]


def test_delete_renumbers_sidecar_and_refuses_bad_indices(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=9), [4, 5, 6], quality={0: 0.1, 1: 0.2, 2: 0.3}, expects_quality=True)
    before = dataset_files(root)
    for bad in ("[3]", "[1, 1]", "1", "[0, 1, 2]", '["a"]'):
        proc = run_delete(root, REPO_ID, bad)
        assert proc.returncode == 2 and "Nothing was changed" in proc.stderr, (bad, proc.stderr[-500:])
    assert dataset_files(root) == before
    proc = run_delete(root, REPO_ID, "[1]")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(root.parent.glob("ds.bak-*")), "the original is kept as a backup"
    ds = load(root)
    assert list(ds.meta.episodes["length"]) == [4, 6]
    side = EpisodeSidecar(root)
    assert side.get(1)["quality"]["score"] == 0.3 and side.get(1)["sim_episode_index"] == 2


def test_controller_done_ends_the_run_only_after_its_last_attempt_is_committed(tmp_path: Path) -> None:
    """The autopilot leaves the sim idle after its last attempt; the recorder may still be behind."""
    cfg = make_cfg(tmp_path / "ds", num_episodes=10, writer="inline")
    rec = Recorder(cfg, expects_quality=False, log=lambda _m: None)
    sim = ScriptedSim()
    first = episode_frames(sim, 4)
    second = episode_frames(sim, 3)
    # The "done" annotation overtakes the frames (inputs are not ordered across each other).
    rec.on_annotation({"episode_index": 1, "controller_done": True})
    assert not rec.controller_finished
    for f in first:
        rec.on_frame(f)
    assert rec.saved == 1 and not rec.controller_finished  # attempt 0 committed, attempt 1 still open
    for f in second:
        rec.on_frame(f)
    assert rec.saved == 2 and rec.controller_finished
    assert rec.sidecar is None or all("controller_done" not in str(r) for r in rec.sidecar.records.values())
    rec.close()


def test_a_full_disk_stops_with_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    """A write failing with ENOSPC on the second commit: one clear line naming repair; the first
    episode stays loadable after repair (a stand-in for a real full filesystem)."""
    import errno

    from sim_teleop.dataset_store import EpisodeWriter, repair

    root = tmp_path / "ds"
    logs: list[str] = []
    rec = Recorder(make_cfg(root, num_episodes=9), expects_quality=False, log=logs.append)
    real_commit = EpisodeWriter.commit
    commits = 0

    def commit_until_full(self: EpisodeWriter) -> int:
        nonlocal commits
        commits += 1
        if commits == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(root / "data"))
        return real_commit(self)

    rec.writer.commit = commit_until_full.__get__(rec.writer)  # type: ignore[method-assign]
    sim = ScriptedSim()
    for n in (4, 3, 5):
        for f in episode_frames(sim, n):
            rec.on_frame(f)
    with pytest.raises(OSError):
        rec.close()
    said = [line for line in logs if "disk is full" in line]
    assert len(said) == 1 and f"repair_dataset.py --root {root}" in said[0], logs
    assert rec.saved == 1
    repair(root)
    assert list(load(root).meta.episodes["length"]) == [4]
