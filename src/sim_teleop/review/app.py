"""The review page's state and actions, without HTTP: what `server` answers, what tests call directly.

Reading never takes the root's lock (the recorder's): each poll stats three files and reads
/proc/locks (`lockstate`), and the episodes are read again only when info.json or the sidecar changed.
Curating (delete, repair, keeping offline scores) takes the real `RootLock` for its duration, exactly
as the scripts do, so a recorder that starts meanwhile refuses, and one that runs makes the page
refuse, in one line, with nothing changed. A filtered copy only reads the root.
"""

from __future__ import annotations

import json
import shlex
import threading
from pathlib import Path
from typing import Any

from sim_teleop.dataset.delete import UsageError, copy_without, delete_in_place
from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.repair import needs_repair, repair
from sim_teleop.quality.config import load_quality_config
from sim_teleop.review.episode import episode_detail
from sim_teleop.review.lockstate import lock_holder
from sim_teleop.review.model import MetaCache, ReviewProblem, Snapshot, load_snapshot, signature
from sim_teleop.review.scoring import ScoringJob

OWNER = "sim-teleop review"


def resume_command(root: Path, repo_id: str, target: int) -> str:
    """The command that records until the dataset holds `target` episodes again."""
    env = f"RESUME_RECORDING=1 RECORD_ROOT={shlex.quote(str(root))} RECORD_REPO_ID={shlex.quote(repo_id)}"
    return f"{env} RECORD_NUM_EPISODES={target} dora run dataflow-record.yaml"


class ReviewApp:
    def __init__(self, root: Path, repo_id: str | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.repo_id = repo_id or f"local/{self.root.name}"
        self._cache = MetaCache()
        self._snapshot: Snapshot | None = None
        self._problem: str | None = None
        self._version = 0
        self._read = threading.Lock()  # one snapshot rebuild at a time
        self._write = threading.Lock()  # one curation at a time
        self.job: ScoringJob | None = None
        self._job_shown: ScoringJob | None = None
        self.message: dict[str, Any] | None = None  # the last curation's outcome, shown until replaced
        quality = load_quality_config(None)
        self.thresholds = {"score": quality.threshold, "subscore": quality.subscore_bad}

    # --- reading --------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the root again if anything the page shows of it changed since the last read."""
        with self._read:
            current = signature(self.root)
            if self._snapshot is not None and self._snapshot.sig == current and self._problem is None:
                return
            try:
                snap = load_snapshot(self.root, self._cache)
                problem = None
            except ReviewProblem as exc:
                snap, problem = None, str(exc)
            before = self._snapshot.sig if self._snapshot is not None else None
            changed = problem != self._problem or snap is None or before is None or snap.sig != before
            self._snapshot, self._problem = snap, problem
            if changed:
                self._version += 1

    def read_only(self) -> tuple[str | None, str | None]:
        """(why the page may not change the root, what it may offer instead: 'repair' or None)."""
        holder = lock_holder(self.root)
        if holder is not None:
            return f"read-only: {self.root} is in use by {holder}; curation waits until it is done", None
        if self._problem is not None:
            return self._problem, None
        if needs_repair(self.root):
            return (
                f"{self.root} was left by an interrupted recording: repair it before curating "
                "(removes the unfinished episode's leftovers; committed episodes stay)",
                "repair",
            )
        return None, None

    def _episodes(self) -> list[dict[str, Any]]:
        rows = self._snapshot.episodes if self._snapshot else []
        job = self.job
        if job is None or not job.reports:
            return rows
        out = []
        for row in rows:
            rep = job.reports.get(row["i"]) if row["scored_by"] is None else None
            if rep is not None:
                row = {
                    **row,
                    **{k: rep.get(k) for k in ("score", "verdict", "reasons", "subscores", "success")},
                }
                row["scored_by"] = "offline (not kept)"
            out.append(row)
        return out

    def state(self, known_version: int | None = None) -> dict[str, Any]:
        """What the page shows; episodes only when they changed since `known_version`."""
        self.refresh()
        if self.job is not None and (not self.job.finished or self.job is not self._job_shown):
            self._version += 1  # its scores fill in as it goes; once more when it has finished
            self._job_shown = self.job if self.job.finished else None
        why, offer = self.read_only()
        snap = self._snapshot
        out: dict[str, Any] = {
            "root": str(self.root),
            "repo_id": self.repo_id,
            "version": self._version,
            "problem": self._problem,
            "read_only": why,
            "offer": offer,
            "notes": (snap.notes + ([snap.sidecar_problem] if snap.sidecar_problem else [])) if snap else [],
            "cameras": snap.cameras if snap else [],
            "fps": (snap.info.get("fps") if snap else None),
            "thresholds": self.thresholds,
            "scoring": self.job.progress() if self.job else None,
            "message": self.message,
        }
        if snap is not None and not snap.episodes and self._problem is None:
            out["notes"] = [f"{self.root} holds 0 episodes", *out["notes"]]
        if known_version != self._version:
            out["episodes"] = self._episodes()
        return out

    def detail(self, index: int) -> dict[str, Any]:
        row = next((r for r in self._episodes() if r["i"] == index), None)
        if row is None:
            raise ReviewProblem(f"episode {index} is not in {self.root}")
        try:
            return {**episode_detail(self.root, index, row.get("subscores") or {}), "episode": row}
        except (OSError, KeyError, ValueError) as exc:
            raise ReviewProblem(
                f"episode {index}: cannot read its data ({type(exc).__name__}: {exc})"
            ) from None

    # --- curating ------------------------------------------------------------------------------------

    def _curate(self, what: str, action: Any) -> dict[str, Any]:
        """Run `action()` under the root's lock; the outcome as {ok, text, command?}, never a trace."""
        with self._write:
            try:
                with RootLock(self.root, OWNER):
                    result = action()
            except RootInUse as exc:
                result = {"ok": False, "text": f"{what} refused: {exc}"}
            except UsageError as exc:
                result = {"ok": False, "text": f"{what} refused: {exc}. Nothing was changed."}
            except Exception as exc:  # lerobot's own failures: one line, the dataset as it was
                result = {
                    "ok": False,
                    "text": f"{what} failed ({type(exc).__name__}: {exc}); nothing was changed",
                }
            self.message = result
        self.refresh()
        return result

    def delete(self, indices: list[int]) -> dict[str, Any]:
        total = len(self._snapshot.episodes) if self._snapshot else 0

        def run() -> dict[str, Any]:
            self.job = None  # its episode numbers are about to change
            backup = delete_in_place(self.repo_id, self.root, json.dumps(indices), log=lambda _: None)
            return {
                "ok": True,
                "text": f"deleted episodes {sorted(indices)}: {total - len(indices)} left, renumbered; "
                f"the original is kept at {backup}",
                "command": resume_command(self.root, self.repo_id, total),
            }

        return self._curate("delete", run)

    def copy(self, indices: list[int], out: str) -> dict[str, Any]:
        target = Path(out).expanduser()
        target = target if target.is_absolute() else self.root.parent / target

        def run() -> dict[str, Any]:
            kept = copy_without(self.repo_id, self.root, json.dumps(indices), target, log=lambda _: None)
            return {"ok": True, "text": f"wrote {target}: {kept} episodes (without {sorted(indices)})"}

        return self._curate("filtered copy", run)

    def repair(self) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            return {"ok": True, "text": f"repaired {self.root}: {repair(self.root).summary()}"}

        return self._curate("repair", run)

    def score(self) -> dict[str, Any]:
        if self.job is not None and not self.job.finished:
            return {"ok": True, "text": "offline scoring is running"}
        if self._problem is not None:
            return {"ok": False, "text": self._problem}
        self.job = ScoringJob(self.root).start()
        return {"ok": True, "text": "offline scoring started"}

    def keep_scores(self) -> dict[str, Any]:
        job = self.job
        if job is None or not job.finished or job.error:
            return {"ok": False, "text": "no finished offline scores to keep"}
        return self._curate(
            "keeping the scores", lambda: {"ok": True, "text": f"scores kept in {job.keep()}"}
        )
