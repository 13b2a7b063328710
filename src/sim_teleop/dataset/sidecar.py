"""Per-episode records kept beside a LeRobotDataset: quality reports, injected-defect ground truth.

One JSON object per line in `<root>/meta/episode_sidecar.jsonl`, keyed by the dataset's episode index.
Every write rewrites the file atomically (temp file + rename), so a crash leaves the old or the new
file, never half of one. Deleting episodes renumbers the records exactly as lerobot renumbers episodes.

The recorder writes an episode's record into the next version of the root, the one the commit's atomic
exchange makes the root (`publish`), so record and episode appear together. Loading still ignores
records of episodes the dataset does not hold (a root written by an older recorder may have one; repair
or resume drops it), so readers always see aligned records.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sim_teleop.dataset.reader import is_dataset, read_info, total_episodes

SIDECAR_RELPATH = Path("meta") / "episode_sidecar.jsonl"
ATTEMPT_KEY = "sim_episode_index"
"""A record's sim attempt index: the attempt (so the cube placement) its episode was recorded from."""
STALLED_KEY = "stalled_frames"
"""A record's rows (frame numbers in the episode) that the sim served after skipping ticks (a loaded
machine): their step holds more than one tick of a keyboard's motion. LeRobot numbers its rows, so only
this says so; the offline scorer leaves them out of the pace as the live one does (`FrameFacts.stalled`)."""


class EpisodeSidecar:
    def __init__(self, root: str | Path) -> None:
        self.path = Path(root) / SIDECAR_RELPATH
        self.records: dict[int, dict[str, Any]] = {}
        self.ignored = 0  # records on disk of episodes the dataset does not hold
        if self.path.exists():
            held = total_episodes(Path(root))
            for line in self.path.read_text().splitlines():
                if line.strip():
                    rec = json.loads(line)
                    index = int(rec["episode_index"])
                    if held is None or index < held:
                        self.records[index] = rec
                    else:
                        self.ignored += 1

    def get(self, episode_index: int) -> dict[str, Any] | None:
        return self.records.get(episode_index)

    def put(self, episode_index: int, into: Path | None = None, **fields: Any) -> None:
        """Merge `fields` into the record of `episode_index` and persist (into the root `into`, a
        commit's next version, instead of this one's root when given)."""
        rec = self.records.setdefault(episode_index, {"episode_index": episode_index})
        rec.update(fields)
        self.save(None if into is None else into / SIDECAR_RELPATH)

    def drop_after(self, num_episodes: int) -> None:
        """Forget records of episodes >= num_episodes (not in the dataset, e.g. lost in a crash)."""
        stale = [i for i in self.records if i >= num_episodes]
        if stale or self.ignored:
            for i in stale:
                del self.records[i]
            self.save()
            self.ignored = 0

    def delete_and_renumber(self, deleted: Iterable[int]) -> None:
        """Remove the deleted episodes and shift later ones down, keeping order contiguous."""
        gone = set(deleted)
        kept = [self.records[i] for i in sorted(self.records) if i not in gone]
        remaining_old = sorted(i for i in self.records if i not in gone)
        # New index = old index minus the number of deleted indices below it.
        self.records = {}
        for old, rec in zip(remaining_old, kept, strict=True):
            new = old - sum(1 for d in gone if d < old)
            rec = {**rec, "episode_index": new}
            self.records[new] = rec
        self.save()

    def save(self, path: Path | None = None) -> None:
        """Persist every record (atomically: the old file or the new one, never half)."""
        path = path or self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".jsonl.tmp")
        try:
            with tmp.open("w") as fh:
                for i in sorted(self.records):
                    fh.write(json.dumps(self.records[i], sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves the old file, no half-written temp
            raise


def next_attempt(root: Path) -> int:
    """The first sim attempt a resumed recording of `root` may use (0 when it holds no dataset).

    A session's placement is its first attempt index plus the episodes saved so far, never more than
    the attempt index; starting after every attempt the sidecar remembers (and at least at the episode
    count) means no placement in the dataset comes back, even after deletes renumbered it. Raises
    DatasetError when info.json cannot be read."""
    if not is_dataset(root):
        return 0
    total = int(read_info(root).get("total_episodes", 0))
    attempts = [int(r.get(ATTEMPT_KEY, -1)) for r in EpisodeSidecar(root).records.values()]
    return max([total, *(a + 1 for a in attempts)])
