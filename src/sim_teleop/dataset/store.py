"""Writing LeRobotDataset v3.0 episodes so that the dataset survives SIGKILL and loads as left at any moment.

Why: lerobot 0.6.1 keeps the data parquet footer and the episodes metadata in memory until
`finalize()`, so a killed recorder loses its whole session, and a kill inside `save_episode()` leaves
`info.json` counting an episode whose files are half written (`LeRobotDataset` then fails to load).
So every episode is written by its own short lerobot session in a *stage* (`publish.prepare_stage`):
`resume()` (or `create()` for the first episode), `add_frame()` while frames arrive (streaming video
encoding), then `save_episode()` + `finalize()`, all inside the stage. The root does not change until
the episode is complete; then `publish.publish` switches the root to a version with it, in one atomic
exchange.

Cost: ~0.3 s of writer-thread time per episode and four small files per episode (data, episodes
metadata, one video per camera); lerobot loads such datasets normally.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.journal import JOURNAL_DIR, STAGE
from sim_teleop.dataset.publish import prepare_stage, publish
from sim_teleop.dataset.reader import read_info
from sim_teleop.dataset.repair import temp_dirs

CODEC_ALIASES = {
    "av1": "libsvtav1",
    "libsvtav1": "libsvtav1",
    "h264": "h264",
    "libx264": "h264",
    "hevc": "hevc",
}
"""Codec names (ours and the ones lerobot notes in info.json) -> the encoder lerobot is given."""


def same_codec(a: str, b: str) -> bool:
    return CODEC_ALIASES.get(a, a) == CODEC_ALIASES.get(b, b)


ENCODER_QUEUE_FRAMES = 2000
"""Frames buffered per camera for the streaming encoder. lerobot's default (30) *drops* a frame when the
encoder falls 3 s behind (seen on this 2-core machine under load), leaving the video shorter than the
parquet; a whole long episode fits here (~100 MB at 128x128)."""


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

    def commit(self, before_visible: Callable[[Path], None] | None = None) -> int:
        """Save and finalize the open episode in the stage, then publish it; returns its episode index.

        `before_visible(tree)` runs once the next version of the root (`tree`) holds the episode, just
        before the exchange that makes it the root.
        """
        if self._ds is None or self._frames == 0:
            raise DatasetError("commit without frames")
        index = self.num_episodes
        t0 = time.perf_counter()
        self._ds.save_episode()
        t1 = time.perf_counter()
        self._ds.finalize()
        self._ds = None
        publish(self.root, before_visible, self.publish_step)
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
            for tmp in temp_dirs(self.root):
                shutil.rmtree(tmp, ignore_errors=True)
