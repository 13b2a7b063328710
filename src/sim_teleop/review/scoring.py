"""Scores for a dataset without our sidecar: the offline scorer, run on demand in a thread, with progress.

The reports stay in memory (the page shows them as `offline`) until the user asks to keep them; then
they are written beside the dataset as `meta/quality_scores.json`, the JSON `scripts/score_dataset.py`
writes, with the dataset's frame count so a later change of the dataset makes them stale.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from sim_teleop.config import ConfigError
from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.reader import DatasetReader, read_info
from sim_teleop.dataset.sidecar import EpisodeSidecar
from sim_teleop.quality.config import load_quality_config
from sim_teleop.quality.layout import not_computed, not_computed_line
from sim_teleop.quality.offline import offline_config, score_episode
from sim_teleop.quality.scorer import EpisodeScorer
from sim_teleop.review.model import SCORES_RELPATH


class ScoringJob:
    """One offline scoring pass over root, in a daemon thread; `progress()` is safe to call any time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.total_frames = read_info(root, committed=False).get("total_frames")
        self.done = 0
        self.total = 0
        self.error: str | None = None
        self.note: str | None = None
        self.finished = False
        self.reports: dict[int, dict[str, Any]] = {}
        self.threshold: float | None = None
        self.success_gate = True
        self.missing: dict[str, str] = {}
        self._thread = threading.Thread(target=self._run, name="review-scoring", daemon=True)

    def start(self) -> ScoringJob:
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            with DatasetReader(self.root) as reader:
                cfg = offline_config(replace(load_quality_config(None), fps=reader.fps), reader.info)
                self.threshold, self.success_gate = cfg.threshold, cfg.success_gate
                self.missing = not_computed(cfg)
                self.note = not_computed_line(self.missing) if self.missing else None
                scorer = EpisodeScorer(cfg)
                self.total = len(reader)
                sidecar = EpisodeSidecar(reader.root)
                for i in range(len(reader)):
                    report = score_episode(reader, i, scorer, sidecar=sidecar)
                    self.reports[report.episode_index] = report.to_dict()
                    self.done += 1
        except (ConfigError, DatasetError, OSError, KeyError, ValueError) as exc:
            self.error = f"offline scoring stopped: {type(exc).__name__}: {exc}"
        except Exception as exc:  # a decoder error, anything: one line on the page, never a trace
            self.error = f"offline scoring failed: {type(exc).__name__}: {exc}"
        finally:
            self.finished = True

    def progress(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "finished": self.finished,
            "error": self.error,
            "note": self.note,
        }

    def keep(self) -> Path:
        """Write the finished reports beside the dataset (atomically); returns the path."""
        if not self.finished or self.error:
            raise RuntimeError("the scores are not complete: nothing to keep yet")
        path = self.root / SCORES_RELPATH
        episodes = [self.reports[i] for i in sorted(self.reports)]
        data = {
            "root": str(self.root),
            "threshold": self.threshold,
            "success_gate": self.success_gate,
            "not_computed": self.missing,
            "total_frames": self.total_frames,
            "episodes": episodes,
            "written_by": "sim-teleop review",
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
        return path
