"""What arrives beside the frames, per sim attempt: quality reports and the controller's annotations.

They come in on the node's receive loop while the recorder's writer thread may be waiting for the
report of the episode it is about to commit, so they meet here under one lock. A note that arrives
after its episode was saved (a report after the timeout) is handed back with the episode's dataset
index, for the sidecar.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sim_teleop.messages import QualityReport


class EpisodeNotes:
    """Reports and annotations keyed by sim attempt, shared by the receive loop and the writer."""

    def __init__(self, expects_quality: bool) -> None:
        self._cond = threading.Condition()
        self._reports: dict[int, QualityReport] = {}
        self._annotations: dict[int, dict[str, Any]] = {}
        self._saved_as: dict[int, int] = {}  # sim attempt -> dataset episode index
        self._quality_closed = not expects_quality

    def put_report(self, report: QualityReport) -> int | None:
        """Keep a report (waking a writer that waits for it); returns its episode if already saved."""
        with self._cond:
            self._reports[report.episode_index] = report
            self._cond.notify_all()
            return self._saved_as.get(report.episode_index)

    def put_annotation(self, attempt: int, fields: dict[str, Any]) -> int | None:
        """Keep an annotation; returns the attempt's episode if already saved."""
        with self._cond:
            self._annotations[attempt] = fields
            return self._saved_as.get(attempt)

    def close_quality(self) -> None:
        """No report can arrive any more: nobody waits for one from now on."""
        with self._cond:
            self._quality_closed = True
            self._cond.notify_all()

    def wait_report(self, attempt: int, timeout_s: float) -> tuple[QualityReport | None, float]:
        """The attempt's report once it is there, or None after `timeout_s` or once reports closed;
        with the seconds waited."""
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        with self._cond:
            while attempt not in self._reports and not self._quality_closed:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(timeout=left)
            return self._reports.get(attempt), time.perf_counter() - t0

    def annotation(self, attempt: int) -> dict[str, Any] | None:
        with self._cond:
            return self._annotations.get(attempt)

    def saved(self, attempt: int, episode: int) -> None:
        """The attempt is now dataset episode `episode`: later notes go to its sidecar record."""
        with self._cond:
            self._saved_as[attempt] = episode
