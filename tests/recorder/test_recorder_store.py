"""The recorder library with real lerobot, no dora: save, quality policy, resume, refusal, repair, delete."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from recorded import REPO_ID, lerobot_view, load, make_cfg, record
from recorder_fakes import ScriptedSim, episode_frames
from recorder_flows import run_delete

from sim_teleop.config import ConfigError
from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.features import build_features, compat_problems, frame_to_row
from sim_teleop.dataset.publish import pending_path
from sim_teleop.dataset.reader import DatasetReader, EpisodeData, dataset_files
from sim_teleop.dataset.repair import needs_repair, repair
from sim_teleop.dataset.sidecar import STALLED_KEY, EpisodeSidecar
from sim_teleop.dataset.store import EpisodeWriter, VideoSettings
from sim_teleop.eval.summary import results_from_dataset
from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder

os.environ["HF_HUB_OFFLINE"] = "1"
REPO = Path(__file__).resolve().parents[2]
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


def test_resume_refuses_a_dataset_with_the_old_gripper_unit(tmp_path: Path) -> None:
    """Datasets recorded before the unit change name the state's gripper 'gripper.command' (0..255):
    appending 0..1 values to that column would corrupt it, so resume refuses and writes nothing."""
    from sim_teleop.messages import LEGACY_STATE_GRIPPER, STATE_GRIPPER
    from sim_teleop.quality.config import QualityConfig
    from sim_teleop.quality.offline import offline_config

    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=1), [4])
    info_path = root / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    assert info["features"]["observation.state"]["names"][STATE_GRIPPER] == "gripper"
    assert float(load(root)[2]["observation.state"][STATE_GRIPPER]) <= 1.0
    info["features"]["observation.state"]["names"][STATE_GRIPPER] = LEGACY_STATE_GRIPPER
    info_path.write_text(json.dumps(info))
    before = dataset_files(root)
    with pytest.raises(DatasetError, match=r"0\.\.255"):
        record(make_cfg(root, num_episodes=2, resume=True), [3])
    assert dataset_files(root) == before
    # Offline scoring reads such a dataset's gripper in its own unit.
    assert offline_config(QualityConfig(), info).layout.state_gripper_max == 255.0
    assert offline_config(QualityConfig(), None).layout.state_gripper_max == 1.0


def test_config_env_overrides_and_bad_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECORD_REPO_ID", "me/cubes")
    monkeypatch.setenv("RECORD_NUM_EPISODES", "7")
    monkeypatch.setenv("RESUME_RECORDING", "1")
    monkeypatch.setenv("RECORD_TASK", "lift it")
    cfg = RecordConfig.load(REPO / "configs" / "record.json")
    assert (cfg.repo_id, cfg.num_episodes, cfg.resume, cfg.task) == ("me/cubes", 7, True, "lift it")
    assert cfg.root == REPO / "outputs" / "record" / "cubes"
    assert cfg.video.codec == "libsvtav1" and cfg.fps == 10
    assert not cfg.compact_at_end
    monkeypatch.setenv("RECORD_COMPACT", "1")
    assert RecordConfig.load(REPO / "configs" / "record.json").compact_at_end
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
    assert (side.get(0) or {})["quality"]["score"] == 0.25 and (side.get(0) or {})["sim_episode_index"] == 0
    assert (side.get(1) or {})["quality"]["score"] == 0.75 and (side.get(1) or {})["annotation"] == {
        "defects": ["jitter"]
    }
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
    assert (EpisodeSidecar(root).get(1) or {})["quality"] is None


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
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.session import Recorder
cfg = RecordConfig.from_dict({{"repo_id": "test/rec", "root": {root!r}, "rerun": "off", "num_episodes": 9,
                              "resume": True, "writer": "inline"}})
rec = Recorder(cfg, expects_quality=False, log=print)
def kill_at(name):
    if name == {kill_at!r}:
        os._exit(9)                  # like SIGKILL: no finalizers, no atexit
rec.writer.publish_step = kill_at
sim = ScriptedSim()
for f in episode_frames(sim, 5):
    rec.on_frame(f)
"""


@pytest.mark.dataflow  # script subprocesses
def test_kill_during_commit_leaves_a_loadable_dataset_and_resume_continues(tmp_path: Path) -> None:
    """A real kill (os._exit) after the new data file was moved into the next version, before the
    exchange: lerobot sees exactly the two committed episodes, and resume tidies and continues."""
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=9), [4, 3])
    kill_at = "data/chunk-000/file-002.parquet"
    script = CRASH_SCRIPT.format(
        tests=str(Path(__file__).resolve().parents[1]), root=str(root), kill_at=kill_at
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr[-2000:]
    assert (pending_path(root) / kill_at).exists() and not (root / kill_at).exists() and needs_repair(root)
    ds = load(root)  # as left, no repair
    assert list(ds.meta.episodes["length"]) == [4, 3] and len(ds.hf_dataset) == 7
    rec, _ = record(make_cfg(root, num_episodes=3, resume=True), [6])
    assert any(line.startswith("repair: ") for line in rec.logs)  # type: ignore[attr-defined]
    assert not pending_path(root).exists()
    ds = load(root)
    assert list(ds.meta.episodes["length"]) == [4, 3, 6] and len(ds.hf_dataset) == 13
    assert sorted(EpisodeSidecar(root).records) == [0, 1, 2]


class Killed(BaseException):
    """Stands for a SIGKILL at a publish step: nothing after it runs."""


def commit_stopped_at(root: Path, target: str | None) -> list[str]:
    """Resume `root`, record a 5-frame episode, and stop its commit at step `target` (None: finish).
    Returns the steps the commit went through."""
    writer = EpisodeWriter(REPO_ID, root, 10, build_features(), "pick", VideoSettings(), create=False)
    seen: list[str] = []

    def step(name: str) -> None:
        seen.append(name)
        if name == target:
            raise Killed

    writer.publish_step = step
    for f in episode_frames(ScriptedSim(), 5):
        if f.phase.value == "running":
            writer.add(frame_to_row(f, "pick", last=False))
    if target == "save_episode":
        writer._ds.save_episode()  # lerobot's files half written (in the stage only)
        return seen
    sidecar = EpisodeSidecar(root)
    with contextlib.suppress(Killed):
        writer.commit(before_visible=lambda tree: sidecar.put(2, into=tree, quality={"score": 0.5}))
    return seen


def test_a_kill_at_any_commit_step_leaves_exactly_the_committed_episodes(tmp_path: Path) -> None:
    """Stop a commit after lerobot's save and after each step of the publish: every time, lerobot's
    own view (info.json, meta.episodes and hf_dataset's rows) holds exactly the committed episodes, the
    sidecar records match them, and repair only tidies."""
    base = tmp_path / "base"
    record(make_cfg(base, num_episodes=9), [4, 3], quality={0: 0.9, 1: 0.8}, expects_quality=True)
    shutil.copytree(base, tmp_path / "full")
    steps = commit_stopped_at(tmp_path / "full", None)
    assert lerobot_view(tmp_path / "full") == (3, 12, 3, 12)
    assert steps[0] == "linked" and steps[-2:] == ["before_visible", "exchanged"], steps
    assert len(steps) >= 8, steps  # 4 files, stats, tasks, the sidecar, the exchange
    for i, target in enumerate(["save_episode", *steps]):
        root = tmp_path / f"case{i}"
        shutil.copytree(base, root)
        commit_stopped_at(root, target)
        committed = target == "exchanged"
        assert lerobot_view(root) == ((3, 12, 3, 12) if committed else (2, 7, 2, 7)), target
        held = 3 if committed else 2
        assert sorted(EpisodeSidecar(root).records) == list(range(held)), target
        assert EpisodeSidecar(root).ignored == 0, target
        # The project's own readers (eval summary, offline scoring) see the same episodes.
        assert len(results_from_dataset(root)[0]) == held, target
        with DatasetReader(root) as reader:
            assert len(reader) == held, target
        assert needs_repair(root), target
        repair(root)
        assert not needs_repair(root) and lerobot_view(root)[0] == held, target
        assert sorted(EpisodeSidecar(root).records) == list(range(held)), target


@pytest.mark.dataflow  # script subprocesses
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
    assert (side.get(1) or {})["quality"]["score"] == 0.3 and (side.get(1) or {})["sim_episode_index"] == 2


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


def test_a_failed_write_stops_with_one_line_and_keeps_committed_episodes(tmp_path: Path) -> None:
    """A write failing with ENOSPC on the second commit: one clear line; the first episode loads as
    left, no repair needed (tests/dataset/test_full_disk.py does this on a real full filesystem)."""
    import errno

    root = tmp_path / "ds"
    logs: list[str] = []
    rec = Recorder(make_cfg(root, num_episodes=9), expects_quality=False, log=logs.append)
    real_commit = EpisodeWriter.commit
    commits = 0

    def commit_until_full(self: EpisodeWriter, before_visible: object = None) -> int:
        nonlocal commits
        commits += 1
        if commits == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(root / "data"))
        return real_commit(self, before_visible)  # type: ignore[arg-type]

    rec.writer.commit = commit_until_full.__get__(rec.writer)  # type: ignore[method-assign]
    sim = ScriptedSim()
    for n in (4, 3, 5):
        for f in episode_frames(sim, n):
            rec.on_frame(f)
    with pytest.raises(OSError):
        rec.close()
    said = [line for line in logs if "ERROR" in line]
    assert len(said) == 1 and "disk is full" in said[0] and "load as they are" in said[0], logs
    assert rec.saved == 1
    assert list(load(root).meta.episodes["length"]) == [4]


def test_an_episode_with_a_frame_gap_is_saved_flagged_never_silently(tmp_path: Path) -> None:
    """Frames lost on the way (e.g. between machines, where dora 1.1 has no backpressure): the episode
    is saved with a named gap, in the console line, the sidecar and the run's summary."""
    root = tmp_path / "ds"
    logs: list[str] = []
    rec = Recorder(make_cfg(root, num_episodes=9), expects_quality=False, log=logs.append)
    sim = ScriptedSim()
    whole = episode_frames(sim, 5)
    gapped = [
        f for f in episode_frames(sim, 6) if not (f.phase.value == "running" and f.frame_index in (2, 3))
    ]
    for f in whole + gapped:
        rec.on_frame(f)
    rec.close()
    saved = [line for line in logs if line.startswith("saved attempt")]
    assert "GAP" not in saved[0] and "WITH A GAP: 2 frame(s) never arrived" in saved[1], saved
    side = EpisodeSidecar(root)
    assert "missing_frames" not in side.records[0] and side.records[1]["missing_frames"] == 2
    assert rec.saved_with_gaps == [1] and rec.follower.stats.dropped == 2
    assert list(load(root).meta.episodes["length"]) == [5, 4]


def test_rows_served_after_skipped_ticks_are_named_in_the_sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LeRobot numbers its rows, so the sidecar keeps which rows a stalled sim served after skipping
    ticks (the frames' tick stamps): the offline scorer reads them to judge the pace as live."""
    from sim_teleop.quality import offline

    root = tmp_path / "ds"
    rec = Recorder(make_cfg(root, num_episodes=9), expects_quality=False, log=lambda _: None)
    sim = ScriptedSim()
    frames = episode_frames(sim, 5) + episode_frames(sim, 6)
    ticks = iter([*range(100, 105), 105, 106, 109, 110, 112, 113])  # the second one skips 2 and 1 ticks
    stamped = [
        dataclasses.replace(f, tick_index=next(ticks)) if f.phase.value == "running" else f for f in frames
    ]
    for f in stamped:
        rec.on_frame(f)
    rec.close()
    side = EpisodeSidecar(root)
    assert STALLED_KEY not in side.records[0]
    assert side.records[1][STALLED_KEY] == [2, 4]  # the rows after each skip
    seen: dict[int, set[int]] = {}

    def score_frames(
        ep: EpisodeData, images: object, scorer: object, fps: float, stalled: Iterable[int] = ()
    ) -> None:
        seen[ep.index] = set(stalled)

    monkeypatch.setattr(offline, "score_frames", score_frames)
    with DatasetReader(root) as reader:
        for i in range(2):
            offline.score_episode(reader, i, scorer=None, cameras=False)  # type: ignore[arg-type]
    assert seen == {0: set(), 1: {2, 4}}


def test_stop_reason_and_end_lines(tmp_path: Path) -> None:
    """What the recorder node reports: why to stop (target, controller done), and the done line."""
    cfg = make_cfg(tmp_path / "ds", num_episodes=1)
    rec = Recorder(cfg, expects_quality=False, log=print)
    try:
        assert rec.stop_reason() is None
        assert "target 1" in rec.start_line() and "without quality reports" in rec.start_line()
        rec.saved = 1
        assert rec.stop_reason() == "1 episodes recorded (target 1)"
        rec.saved_with_gaps.append(0)
        assert rec.done_line().endswith("; saved WITH frame gaps: [0]")
        rec.error = OSError("disk full")
        assert rec.stop_reason() == "writer error"
        rec.error = None
        rec.write_stats(tmp_path / "stats.json")
        assert json.loads((tmp_path / "stats.json").read_text())["saved"] == 1
    finally:
        rec.saved = 0
        rec.close()


@pytest.mark.parametrize("closed", [True, False])
def test_a_tail_the_sim_sent_but_never_arrived_is_named_and_fails_the_run(
    tmp_path: Path, closed: bool
) -> None:
    """The sim says, as it stops, which frame was its last; when the frame stream was delivered whole
    (its input closed) and ended before that, the tail was lost on the way: one line, the run fails.
    A stream cut short by a stop (not closed) may legitimately end early: nothing said."""
    logs: list[str] = []
    rec = Recorder(make_cfg(tmp_path / "ds", num_episodes=9), expects_quality=False, log=logs.append)
    frames = episode_frames(ScriptedSim(), 5)
    for f in frames:
        rec.on_frame(f)
    rec.on_last_frame(frames[-1].seq + 30)  # 30 more frames: e.g. a whole kept episode
    if closed:
        rec.on_frames_closed()
    rec.close()
    said = [line for line in logs if "never arrived" in line]
    assert rec.lost_in_transit is closed and len(said) == int(closed), logs
    assert not closed or "the last 30 frame(s)" in said[0]
    assert rec.saved == 1  # what did arrive is saved either way
