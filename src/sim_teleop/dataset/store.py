"""LeRobotDataset v3.0 storage that survives SIGKILL and loads as left at any moment.

Why: lerobot 0.6.1 keeps the data parquet footer and the episodes metadata in memory until
`finalize()`, so a killed recorder loses its whole session, and a kill inside `save_episode()` leaves
`info.json` counting an episode whose files are half written (`LeRobotDataset` then fails to load).
So every episode is written by its own short lerobot session in a *stage*, `<root>/.recorder/stage`,
that starts as a copy of the root's metadata (episode files hard-linked, the three small mutable ones
copied): `resume()` (or `create()` for the first episode), `add_frame()` while frames arrive
(streaming video encoding), then `save_episode()` + `finalize()`, all inside the stage. The root does
not change until the episode is complete. Then `publish()` moves the episode's new files (data,
episodes metadata, one video per camera; a resumed session always starts new files) into the root
with atomic renames, then `meta/stats.json` and `meta/tasks.parquet`, and `meta/info.json` last.
lerobot reads only the episodes `info.json` counts, so at every instant the root loads with
`LeRobotDataset` as it is: the old episodes until the final rename, all of them after it.

The journal `<root>/.recorder/commit.json` (written before the first rename, removed after the last)
lists the root's files and keeps copies of the mutable ones, so `repair()` can roll an interrupted
publish back and drop the stage; resume does it itself. Repair is tidying, not a precondition for
reading.

Cost: ~0.3 s of writer-thread time per episode and four small files per episode (data, episodes
metadata, one video per camera); lerobot loads such datasets normally.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim_teleop.messages import (
    ACTION_NAMES,
    CAMERAS,
    IMAGE_SHAPE,
    LEGACY_STATE_GRIPPER,
    STATE_NAMES,
    Frame,
)

JOURNAL_DIR = ".recorder"
JOURNAL = "commit.json"
STAGE = "stage"
INFO = "meta/info.json"
_MUTABLE = ("meta/stats.json", "meta/tasks.parquet", INFO)  # published in this order: info.json last
_ADDED_UNDER = ("data", "meta/episodes", "videos")

CODEC_ALIASES = {
    "av1": "libsvtav1",
    "libsvtav1": "libsvtav1",
    "h264": "h264",
    "libx264": "h264",
    "hevc": "hevc",
}


ENCODER_QUEUE_FRAMES = 2000
"""Frames buffered per camera for the streaming encoder. lerobot's default (30) *drops* a frame when the
encoder falls 3 s behind (seen on this 2-core machine under load), leaving the video shorter than the
parquet; a whole long episode fits here (~100 MB at 128x128)."""


class DatasetError(RuntimeError):
    """The dataset cannot be used as asked; the text says why and what to do."""


def camera_key(camera: str) -> str:
    return f"observation.images.{camera}"


def build_features(cameras: tuple[str, ...] = CAMERAS, image_shape: tuple[int, ...] = IMAGE_SHAPE) -> dict:
    """The dataset features: the layout lerobot's gym_manipulator records, so lerobot-train takes it."""
    features: dict[str, dict[str, Any]] = {
        "action": {"dtype": "float32", "shape": (len(ACTION_NAMES),), "names": list(ACTION_NAMES)},
        "observation.state": {"dtype": "float32", "shape": (len(STATE_NAMES),), "names": list(STATE_NAMES)},
    }
    for cam in cameras:
        features[camera_key(cam)] = {
            "dtype": "video",
            "shape": tuple(image_shape),
            "names": ["height", "width", "channels"],
        }
    features["next.reward"] = {"dtype": "float32", "shape": (1,), "names": None}
    features["next.success"] = {"dtype": "bool", "shape": (1,), "names": None}
    features["next.done"] = {"dtype": "bool", "shape": (1,), "names": None}
    return features


def frame_to_row(frame: Frame, task: str, last: bool, cameras: tuple[str, ...] = CAMERAS) -> dict[str, Any]:
    """A sim frame -> the dict `LeRobotDataset.add_frame` takes. `last`: the episode's final frame."""
    row: dict[str, Any] = {
        "action": np.asarray(frame.action, np.float32).copy(),
        "observation.state": np.asarray(frame.state, np.float32).copy(),
        "next.reward": np.array([frame.reward], np.float32),
        "next.success": np.array([bool(frame.success)]),
        "next.done": np.array([bool(last)]),
        "task": task,
    }
    for cam in cameras:
        row[camera_key(cam)] = np.array(frame.image(cam), dtype=np.uint8, copy=True)
    return row


# --- compatibility ----------------------------------------------------------------------------------


def _norm_feature(ft: dict) -> dict:
    names = ft.get("names")
    if isinstance(names, dict):
        names = {k: list(v) for k, v in names.items()}
    elif names is not None:
        names = list(names)
    return {"dtype": ft.get("dtype"), "shape": list(ft.get("shape", [])), "names": names}


def read_info(root: Path) -> dict:
    """info.json as the last finished commit left it (the journal's copy while a commit is in flight)."""
    backup = root / JOURNAL_DIR / "backup" / INFO
    path = (
        backup if (root / JOURNAL_DIR / JOURNAL).exists() and backup.exists() else root / "meta" / "info.json"
    )
    if not path.exists():
        raise DatasetError(f"{root} is not a LeRobotDataset (no meta/info.json)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        # Commits replace info.json by an atomic rename, so no kill leaves it half written: repair
        # cannot rebuild it, only a copy can.
        raise DatasetError(
            f"{path}: unreadable ({exc}); it was changed outside the recorder, which only ever replaces "
            "it whole: restore it from a copy (delete_episodes.py keeps the original as <root>.bak-*)"
        ) from None


def compat_problems(info: dict, fps: int, features: dict) -> list[str]:
    """Why a dataset with `info` cannot be appended to with `fps`/`features` (empty list: it can)."""
    problems = []
    state_names = info.get("features", {}).get("observation.state", {}).get("names") or []
    legacy = LEGACY_STATE_GRIPPER in state_names
    if legacy:
        problems.append(
            f"observation.state: the dataset stores the gripper as {LEGACY_STATE_GRIPPER!r} in 0..255 "
            "(recorded before the gripper became 0..1 in state and action); appending would mix units"
        )
    if int(info.get("fps", -1)) != int(fps):
        problems.append(f"fps: dataset has {info.get('fps')}, this recording runs at {fps}")
    have = {k: v for k, v in info.get("features", {}).items() if k not in _DEFAULT_FEATURE_KEYS}
    features = {k: v for k, v in features.items() if k not in _DEFAULT_FEATURE_KEYS}
    have_cams = sorted(k for k, v in have.items() if v.get("dtype") in ("video", "image"))
    want_cams = sorted(k for k, v in features.items() if v.get("dtype") in ("video", "image"))
    if have_cams != want_cams:
        problems.append(f"cameras: dataset has {have_cams}, this recording has {want_cams}")
    for key in sorted(set(have) | set(features)):
        if key not in have:
            problems.append(f"feature {key!r} is missing from the dataset")
        elif key not in features:
            problems.append(f"dataset has feature {key!r} that this recording does not produce")
        else:
            a, b = _norm_feature(have[key]), _norm_feature(features[key])
            if a != b and not (legacy and key == "observation.state"):
                what = "image size" if key in want_cams and a["shape"] != b["shape"] else "feature"
                problems.append(f"{what} {key!r}: dataset has {a}, this recording has {b}")
    return problems


_DEFAULT_FEATURE_KEYS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


# --- journal / repair ---------------------------------------------------------------------------------


def _listed_files(root: Path) -> list[str]:
    files = []
    for sub in _ADDED_UNDER:
        base = root / sub
        if base.is_dir():
            files += [p.relative_to(root).as_posix() for p in base.rglob("*") if p.is_file()]
    return sorted(files)


def _fsync_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def begin_commit(root: Path, num_episodes: int) -> list[str]:
    """Write the journal of a publish about to start (the root holds `num_episodes` finalized ones);
    returns the root's files it lists."""
    jdir = root / JOURNAL_DIR
    backup = jdir / "backup"
    if backup.exists():
        shutil.rmtree(backup)
    for rel in _MUTABLE:
        src = root / rel
        if src.exists():
            dst = backup / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    files = _listed_files(root)
    journal = {
        "num_episodes": num_episodes,
        "files": files,
        "mutable": [rel for rel in _MUTABLE if (root / rel).exists()],
        "started": time.time(),
    }
    jdir.mkdir(parents=True, exist_ok=True)
    _fsync_write(jdir / JOURNAL, json.dumps(journal))
    return files


def end_commit(root: Path) -> None:
    """The publish is complete: drop the journal (the atomic point), then its backups and the stage."""
    jdir = root / JOURNAL_DIR
    (jdir / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(jdir / "backup", ignore_errors=True)
    shutil.rmtree(jdir / STAGE, ignore_errors=True)
    with contextlib.suppress(OSError):
        jdir.rmdir()


def prepare_stage(root: Path, create: bool) -> Path:
    """A fresh stage for the next episode's lerobot session: the root's metadata, nothing else.

    The committed episodes' metadata files are hard-linked (lerobot reads them to number the next
    files and never rewrites them in a resumed session); the three mutable files are copied, because
    lerobot rewrites them in place. For a new dataset the stage does not exist: `create()` makes it.
    """
    stage = root / JOURNAL_DIR / STAGE
    if stage.exists():
        shutil.rmtree(stage)
    if create:
        stage.parent.mkdir(parents=True, exist_ok=True)
        return stage
    for src in sorted((root / "meta").rglob("*")):
        rel = src.relative_to(root).as_posix()
        if not src.is_file() or not (rel in _MUTABLE or rel.startswith("meta/episodes/")):
            continue
        dst = stage / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel in _MUTABLE:
            shutil.copy2(src, dst)
        else:
            try:
                os.link(src, dst)
            except OSError:  # a filesystem without hard links
                shutil.copy2(src, dst)
    return stage


def publish(
    root: Path,
    num_episodes: int,
    before_visible: Callable[[], None] | None = None,
    step: Callable[[str], None] | None = None,
) -> list[str]:
    """Move a finalized episode from the stage into the root; every step keeps the root loadable.

    New files first (lerobot ignores files that info.json does not count), then stats and tasks,
    then `before_visible()` (the recorder writes its sidecar record there), then info.json: the
    rename that makes the episode exist. `step(name)` runs after each step (tests kill there).
    Returns the files moved.
    """
    stage = root / JOURNAL_DIR / STAGE
    have = set(begin_commit(root, num_episodes))
    moved = []
    for rel in _listed_files(stage):
        if rel in have:
            continue  # a hard link of a committed file
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, dst)
        moved.append(rel)
        if step is not None:
            step(rel)
    for rel in _MUTABLE:
        if rel == INFO and before_visible is not None:
            before_visible()
            if step is not None:
                step("before_visible")
        if (stage / rel).exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, root / rel)
            moved.append(rel)
            if step is not None:
                step(rel)
    end_commit(root)
    return moved


@dataclass
class RepairReport:
    rolled_back: bool = False
    removed: list[str] | None = None
    restored: list[str] | None = None
    num_episodes: int | None = None

    def summary(self) -> str:
        parts = []
        if self.rolled_back:
            parts.append(
                f"rolled back an unfinished commit: removed {len(self.removed or [])} file(s), "
                f"restored {', '.join(self.restored or []) or 'nothing'}"
            )
        if self.removed and not self.rolled_back:
            parts.append(f"removed {len(self.removed)} leftover temp path(s)")
        return "; ".join(parts) or "nothing to repair"


def _temp_dirs(root: Path) -> list[Path]:
    """Leftovers of an interrupted episode: the streaming encoder's mkdtemp dirs and PNG staging."""
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("tmp")]
    if (root / "images").is_dir():
        found.append(root / "images")
    return found


def holds_nothing_saved(root: Path) -> bool:
    """root exists but only holds the stage of a first episode that was never published."""
    if not root.is_dir() or (root / JOURNAL_DIR / JOURNAL).exists():
        return False
    entries = list(root.iterdir())
    return bool(entries) and all(p.name == JOURNAL_DIR or p in _temp_dirs(root) for p in entries)


def needs_repair(root: Path) -> bool:
    jdir = root / JOURNAL_DIR
    return (jdir.is_dir() and any(jdir.iterdir())) or bool(_temp_dirs(root))


def repair(root: str | Path) -> RepairReport:
    """Bring a dataset left by a killed recorder back to its last finished commit (idempotent).

    Rolls an interrupted publish back in an order that keeps the root loadable throughout: info.json
    first (the episode stops existing), then the other mutable files, then the files it added. It
    only renames and deletes, so it needs no free space, and a repair that is itself interrupted
    leaves a loadable root that the next repair finishes.
    """
    root = Path(root)
    report = RepairReport(removed=[], restored=[])
    journal_path = root / JOURNAL_DIR / JOURNAL
    if journal_path.exists():
        journal = json.loads(journal_path.read_text())
        backup = root / JOURNAL_DIR / "backup"
        for rel in reversed(_MUTABLE):
            if rel in journal["mutable"]:
                if (backup / rel).exists():  # else restored by an earlier, interrupted repair
                    os.replace(backup / rel, root / rel)  # a rename: works on a full disk too
                report.restored.append(rel)  # type: ignore[union-attr]
            elif (root / rel).exists():
                (root / rel).unlink()
                report.removed.append(rel)  # type: ignore[union-attr]
        before = set(journal["files"])
        for rel in _listed_files(root):
            if rel not in before:
                (root / rel).unlink()
                report.removed.append(rel)  # type: ignore[union-attr]
        report.rolled_back = True
        report.num_episodes = int(journal["num_episodes"])
        journal_path.unlink()
    shutil.rmtree(root / JOURNAL_DIR / "backup", ignore_errors=True)
    if (root / JOURNAL_DIR / STAGE).exists():
        shutil.rmtree(root / JOURNAL_DIR / STAGE)
        report.removed.append(f"{JOURNAL_DIR}/{STAGE}")  # type: ignore[union-attr]
    with contextlib.suppress(OSError):
        (root / JOURNAL_DIR).rmdir()
    for tmp in _temp_dirs(root):
        shutil.rmtree(tmp, ignore_errors=True)
        report.removed.append(tmp.name)  # type: ignore[union-attr]
    for sub in _ADDED_UNDER:  # empty chunk directories left by a rolled-back commit
        base = root / sub
        if base.is_dir():
            for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                if not any(d.iterdir()):
                    d.rmdir()
    return report


def dataset_files(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (tests compare datasets byte for byte)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- the per-episode writer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoSettings:
    codec: str = "libsvtav1"
    crf: int = 30
    g: int = 2
    streaming: bool = True  # False: lerobot's default PNG-then-encode (kept for the benchmark)


class EpisodeWriter:
    """Writes one episode at a time into `root`, each committed by its own finalized lerobot session.

    Not thread-safe: one writer thread owns it. `open_episode()` / `add()` / `commit()` or `discard()`.
    """

    def __init__(
        self,
        repo_id: str,
        root: Path,
        fps: int,
        features: dict,
        task: str,
        video: VideoSettings,
        create: bool,
        robot_type: str | None = None,
    ) -> None:
        from lerobot.configs.video import RGBEncoderConfig

        self.repo_id = repo_id
        self.root = Path(root)
        self.fps = fps
        self.features = features
        self.task = task
        self.video = video
        self.robot_type = robot_type
        self.encoder = RGBEncoderConfig(
            vcodec=CODEC_ALIASES.get(video.codec, video.codec), crf=video.crf, g=video.g
        )
        self._create = create
        self._created_here = create
        self._ds: Any = None
        self._frames = 0
        self.num_episodes = 0 if create else int(read_info(self.root).get("total_episodes", 0))
        self.last_timing: dict[str, float] = {}
        self.publish_step: Callable[[str], None] | None = None  # tests: called after each publish step

    def open_episode(self) -> None:
        """Prepare a lerobot session for the next episode in a fresh stage (see the module doc)."""
        if self._ds is not None:
            return
        from lerobot.datasets import LeRobotDataset

        t0 = time.perf_counter()
        stage = prepare_stage(self.root, self._create)
        if self._create:
            self._ds = LeRobotDataset.create(
                self.repo_id,
                self.fps,
                self.features,
                root=stage,
                robot_type=self.robot_type,
                use_videos=True,
                streaming_encoding=self.video.streaming,
                encoder_queue_maxsize=ENCODER_QUEUE_FRAMES,
                rgb_encoder=self.encoder,
            )
        else:
            self._ds = LeRobotDataset.resume(
                self.repo_id,
                root=stage,
                streaming_encoding=self.video.streaming,
                encoder_queue_maxsize=ENCODER_QUEUE_FRAMES,
                rgb_encoder=self.encoder,
            )
        self._frames = 0
        self.last_timing["open_s"] = time.perf_counter() - t0

    def add(self, row: dict[str, Any]) -> None:
        self.open_episode()
        self._ds.add_frame(row)
        self._frames += 1

    def commit(self, before_visible: Callable[[], None] | None = None) -> int:
        """Save and finalize the open episode in the stage, then publish it; returns its episode index.

        `before_visible()` runs once the episode's files are in the root, just before the info.json
        rename that makes it part of the dataset.
        """
        if self._ds is None or self._frames == 0:
            raise DatasetError("commit without frames")
        index = self.num_episodes
        t0 = time.perf_counter()
        self._ds.save_episode()
        t1 = time.perf_counter()
        self._ds.finalize()
        self._ds = None
        publish(self.root, index, before_visible, self.publish_step)
        self._create = False
        t2 = time.perf_counter()
        self.num_episodes += 1
        self.last_timing.update(save_s=t1 - t0, finalize_s=t2 - t1)
        return index

    def discard(self) -> None:
        """Drop the open episode's frames (re-record, partial episode at stop)."""
        if self._ds is not None and self._frames:
            self._ds.clear_episode_buffer()
        self._frames = 0

    def close(self) -> None:
        """Release the open session; its unsaved frames are dropped, nothing is written.

        A dataset this writer created and never committed to is removed again, so an Esc before the
        first saved episode leaves no root behind that a later run would refuse to overwrite.
        """
        if self._ds is not None:
            self.discard()
            self._ds.finalize()  # nothing pending: closes the encoder, writes no file
            self._ds = None
        if self._created_here and self.num_episodes == 0 and self.root.exists():
            shutil.rmtree(self.root)
            return
        shutil.rmtree(self.root / JOURNAL_DIR / STAGE, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.root / JOURNAL_DIR).rmdir()
        if self.root.exists():
            for tmp in _temp_dirs(self.root):
                shutil.rmtree(tmp, ignore_errors=True)
