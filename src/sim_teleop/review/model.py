"""What the review page shows of a root: one JSON-ready row per episode, and the one problem, if any.

Every read goes through `dataset.reader` and `dataset.sidecar`. A recorder commits by exchanging the
whole root with its next version, so a read may straddle a commit (info.json of one version, files of
the other) or find a file gone: a snapshot is taken again when info.json's identity changed while it
was read or a file vanished, once; a second straddle is left for the next poll. Episode-metadata
files are cached by inode: commits hard-link the committed ones into the next version, so after a
commit only the new episode's file is read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.features import IMAGE_PREFIX
from sim_teleop.dataset.reader import (
    INFO,
    bool_flags,
    column_names,
    episode_meta_files,
    held,
    is_dataset,
    not_a_dataset,
    read_data_columns,
    read_info,
    read_table,
)
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH, EpisodeSidecar

SCORES_RELPATH = Path("meta") / "quality_scores.json"
"""Offline scores kept beside the dataset: `scripts/score_dataset.py`'s JSON, which the page also writes
when asked to keep the scores it computed."""


class ReviewProblem(Exception):
    """Something about the root the page says in one line instead of showing episodes."""


def stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def signature(root: Path) -> tuple[Any, ...]:
    """Changes whenever what the page shows of root may have: a commit, a delete, a sidecar write."""
    return (stat_key(root / INFO), stat_key(root / SIDECAR_RELPATH), stat_key(root / SCORES_RELPATH))


@dataclass
class Snapshot:
    root: Path
    sig: tuple[Any, ...]
    info: dict[str, Any] = field(default_factory=dict)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line each: what the page cannot show and why
    sidecar_problem: str | None = None


class MetaCache:
    """Episode-metadata parquet rows per file, kept while the file's inode, mtime and size stay."""

    def __init__(self) -> None:
        self._rows: dict[Path, tuple[tuple[int, int, int] | None, list[dict[str, Any]]]] = {}

    def rows(self, path: Path) -> list[dict[str, Any]]:
        key = stat_key(path)
        if key is None:
            raise FileNotFoundError(path)
        cached = self._rows.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        columns = [n for n in column_names(path) if not n.startswith("stats/")]
        rows = read_table(path, columns).to_pylist()
        self._rows[path] = (key, rows)
        return rows

    def episodes(self, root: Path, info: dict[str, Any]) -> list[dict[str, Any]]:
        files = episode_meta_files(root)
        live = set(files)
        for stale in [p for p in self._rows if p not in live]:
            del self._rows[stale]
        rows = [r for f in files for r in self.rows(f)]
        rows = [r for r in rows if held(info, int(r["episode_index"]))]
        return sorted(rows, key=lambda r: int(r["episode_index"]))


def _video_spans(meta: dict[str, Any], info: dict[str, Any], keys: list[str]) -> dict[str, dict]:
    spans = {}
    for key in keys:
        try:
            rel = info["video_path"].format(
                video_key=key,
                chunk_index=int(meta[f"videos/{key}/chunk_index"]),
                file_index=int(meta[f"videos/{key}/file_index"]),
            )
            start, end = (
                float(meta[f"videos/{key}/from_timestamp"]),
                float(meta[f"videos/{key}/to_timestamp"]),
            )
        except (KeyError, TypeError, ValueError):
            continue
        spans[key.removeprefix(IMAGE_PREFIX)] = {"file": rel, "from": start, "to": end}
    return spans


def _quality_columns(row: dict[str, Any], quality: dict[str, Any] | None, source: str) -> None:
    if not quality:
        return
    row.update(
        score=quality.get("score"),
        verdict=quality.get("verdict"),
        reasons=list(quality.get("reasons") or []),
        subscores=dict(quality.get("subscores") or {}),
        success=quality.get("success"),
        scored_by=source,
    )


def _sidecar_columns(row: dict[str, Any], rec: dict[str, Any]) -> None:
    note = rec.get("annotation") or {}
    if isinstance(note, dict):
        row["operator"] = note.get("operator")
        row["defects"] = sorted(
            {str(d.get("family")) for d in note.get("defects") or [] if isinstance(d, dict)}
        )
        row["defect_spans"] = [d for d in note.get("defects") or [] if isinstance(d, dict)]
    row["end_reason"] = rec.get("end_reason")
    row["missing_frames"] = rec.get("missing_frames")
    if "intervention" in rec:
        row["intervention"] = rec["intervention"]


def episode_row(meta: dict[str, Any], info: dict[str, Any], video_keys: list[str], fps: float) -> dict:
    length = int(meta.get("length") or 0)
    return {
        "i": int(meta["episode_index"]),
        "length": length,
        "duration": round(length / fps, 3) if fps else None,
        "tasks": [str(t) for t in meta.get("tasks") or []],
        "videos": _video_spans(meta, info, video_keys),
        "score": None,
        "verdict": None,
        "reasons": [],
        "subscores": {},
        "success": None,
        "scored_by": None,
    }


def read_sidecar(root: Path) -> tuple[dict[int, dict[str, Any]], str | None]:
    """Sidecar records by episode, and one line naming a corrupt line (its other lines still count)."""
    try:
        return EpisodeSidecar(root).records, None
    except (ValueError, KeyError, TypeError):
        pass
    records: dict[int, dict[str, Any]] = {}
    bad: list[int] = []
    for n, line in enumerate((root / SIDECAR_RELPATH).read_text().splitlines(), start=1):
        try:
            rec = json.loads(line) if line.strip() else None
            if rec is not None:
                records[int(rec["episode_index"])] = rec
        except (ValueError, KeyError, TypeError):
            bad.append(n)
    return records, (
        f"{SIDECAR_RELPATH} line {', '.join(map(str, bad))}: not a valid record (changed outside the "
        "recorder?); those episodes show no score; nothing was changed"
    )


def read_offline_scores(root: Path, total_frames: int | None) -> dict[int, dict[str, Any]]:
    """Scores a previous `score_dataset.py` or review run kept beside the dataset, by episode."""
    path = root / SCORES_RELPATH
    try:
        data = json.loads(path.read_text())
        if total_frames is not None and data.get("total_frames", total_frames) != total_frames:
            return {}  # scored before the dataset changed
        return {int(r["episode_index"]): r for r in data["episodes"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


INTERVENTION_KEY = "intervention"
"""LeRobot's per-frame flag of a human correction (DAgger rollouts): shown per episode as a fraction."""


def intervention_fractions(root: Path, info: dict[str, Any]) -> dict[int, float]:
    """Per episode, the fraction of frames flagged `intervention` (empty: the dataset has no such column)."""
    if INTERVENTION_KEY not in info.get("features", {}):
        return {}
    table = read_data_columns(root, ["episode_index", INTERVENTION_KEY])
    if table is None:
        return {}
    episodes = np.asarray(table["episode_index"].to_numpy(), dtype=np.int64)
    flags = bool_flags(table[INTERVENTION_KEY])
    counts = np.bincount(episodes)
    hits = np.bincount(episodes, weights=flags.astype(np.float64), minlength=len(counts))
    return {int(i): round(float(hits[i] / counts[i]), 3) for i in np.flatnonzero(counts)}


def _load(root: Path, cache: MetaCache) -> Snapshot:
    sig = signature(root)
    info = read_info(root, committed=False)
    snap = Snapshot(root, sig, info)
    fps = float(info.get("fps") or 0)
    video_keys = [k for k, ft in info.get("features", {}).items() if ft.get("dtype") == "video"]
    snap.cameras = [k.removeprefix(IMAGE_PREFIX) for k in video_keys]
    if not video_keys:
        snap.notes.append("this dataset has no videos: episodes are shown without cameras")
    metas = cache.episodes(root, info)
    snap.episodes = [episode_row(m, info, video_keys, fps) for m in metas]
    records, snap.sidecar_problem = read_sidecar(root) if (root / SIDECAR_RELPATH).exists() else ({}, None)
    offline = read_offline_scores(root, info.get("total_frames"))
    interventions = intervention_fractions(root, info)
    for row in snap.episodes:
        rec = records.get(row["i"]) or {}
        _sidecar_columns(row, rec)
        if row["i"] in interventions:
            row["intervention"] = interventions[row["i"]]
        if rec.get("quality"):
            _quality_columns(row, rec["quality"], "recorder")
        else:
            _quality_columns(row, offline.get(row["i"]), "offline (kept)")
    return snap


def load_snapshot(root: Path, cache: MetaCache) -> Snapshot:
    """The episodes of root as lerobot would load them now; ReviewProblem with one line when it cannot."""
    if not root.exists():
        raise ReviewProblem(f"{root} does not exist")
    if not is_dataset(root):
        raise ReviewProblem(not_a_dataset(root))
    for attempt in (0, 1):
        try:
            snap = _load(root, cache)
        except FileNotFoundError:  # a commit exchanged the root mid-read
            if attempt:
                raise ReviewProblem(f"{root} changed while it was read twice in a row; retrying") from None
            continue
        except DatasetError as exc:
            raise ReviewProblem(str(exc)) from None
        except (OSError, pa.ArrowException, ValueError, KeyError, TypeError) as exc:
            what = f"{type(exc).__name__}: {exc}"
            raise ReviewProblem(f"{root}: cannot be read as a LeRobotDataset v3.0 ({what})") from None
        if attempt or signature(root) == snap.sig:
            return snap
    raise AssertionError("unreachable")


def abspath_inside(root: Path, rel: str) -> Path | None:
    """root/rel when it stays inside root's videos/ (the page asks for video files by relative path)."""
    path = Path(os.path.normpath(root / rel))
    return path if path.is_relative_to(root / "videos") else None
