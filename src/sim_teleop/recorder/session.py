"""The recorder: sim frames (+ quality reports, annotations) -> a crash-safe LeRobotDataset v3.0.

Configuration: `sim_teleop.recorder.config.RecordConfig` (configs/record.json, RECORD_* env vars).

Quality reports arrive on their own input, keyed by the sim's attempt index; when the node has a
`quality` input a finished episode is saved only with its report (or after the timeout), while frames
of the next attempt keep being received and buffered. Per saved episode the sidecar
(`meta/episode_sidecar.jsonl`, keyed by the dataset episode index) holds `quality`, `sim_episode_index`,
`end_reason`, `sim_env` and the controller's `annotation` when one arrived.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.compact import compact
from sim_teleop.dataset.features import (
    build_features,
    camera_key,
    compat_problems,
    frame_to_row,
    has_intervention,
)
from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.reader import read_info, read_tasks, video_codec
from sim_teleop.dataset.repair import holds_nothing_saved, needs_repair, repair
from sim_teleop.dataset.sidecar import ATTEMPT_KEY, STALLED_KEY, EpisodeSidecar
from sim_teleop.dataset.store import EpisodeWriter, same_codec
from sim_teleop.follower import EpisodeFollower, Event, Settled, Started, Step
from sim_teleop.messages import CAMERAS, CONTROLLER_DONE, Frame, Phase, QualityReport, Verdict
from sim_teleop.recorder.config import RecordConfig
from sim_teleop.recorder.notes import EpisodeNotes


def writer_error_message(exc: BaseException, root: Path) -> str:
    """One line for a failed write: what happened, what is kept, what to do (a full disk above all)."""
    kept = (
        "Episodes committed before are kept and load as they are; to record more, resume with "
        "RESUME_RECORDING=1 (it first removes the unfinished episode's files, as "
        f"`python scripts/repair_dataset.py --root {root}` does)"
    )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"ERROR: the disk is full ({exc.filename or root}); recording stopped. Free some space. {kept}"
    return f"ERROR in the writer: {type(exc).__name__}: {exc}; recording stopped. {kept}"


def resume_problems(cfg: RecordConfig, info: dict[str, Any]) -> list[str]:
    """What would make the dataset at cfg.root mixed if this run appended to it (empty: nothing).

    The env is compared with the one stored in each episode's sidecar record (a dataset without it,
    older or foreign, is not refused for env); a new task only passes with `allow_new_task`."""
    root = cfg.root
    problems = []
    envs = sorted({str(r["sim_env"]) for r in EpisodeSidecar(root).records.values() if r.get("sim_env")})
    if any(env != cfg.sim_env for env in envs):
        problems.append(f"env: dataset has {', '.join(map(repr, envs))}, this run has {cfg.sim_env!r}")
    tasks = read_tasks(root)
    if tasks and cfg.task not in tasks and not cfg.allow_new_task:
        problems.append(
            f"task: dataset has {', '.join(map(repr, tasks))}, this run has {cfg.task!r} "
            "(a further task only with RECORD_ALLOW_NEW_TASK=1)"
        )
    robot = info.get("robot_type")
    if robot and robot != cfg.robot_type:
        problems.append(f"robot type: dataset has {robot!r}, this run has {cfg.robot_type!r}")
    codecs = sorted({c for cam in CAMERAS if (c := video_codec(info, camera_key(cam)))})
    if any(not same_codec(c, cfg.video.codec) for c in codecs):
        problems.append(f"video codec: dataset has {', '.join(codecs)}, this run has {cfg.video.codec}")
    # The takeover flag follows the dataset being resumed (older eval datasets have none): not a mix.
    return problems + compat_problems(info, cfg.fps, build_features(intervention=has_intervention(info)))


def records_intervention(cfg: RecordConfig, create: bool, log: Callable[[str], None]) -> bool:
    """Whether this session stores the per-frame `intervention` flag: as configured for a new dataset,
    as the dataset has it for a resumed one (one line when that differs from the config)."""
    if create:
        return cfg.intervention
    have = has_intervention(read_info(cfg.root))
    if have != cfg.intervention:
        log(
            f"note: {cfg.root} was recorded {'with' if have else 'without'} the per-frame intervention "
            f"flag; this session records {'it' if have else 'none'} too, to keep the dataset one layout"
        )
    return have


def prepare_dataset(cfg: RecordConfig, log: Callable[[str], None]) -> tuple[bool, int]:
    """Check the root before anything is written. Returns (create, episodes already in the dataset).

    Refuses (DatasetError, one line, nothing written) when the root exists without resume, or when
    resuming would mix the dataset (`resume_problems`: env, task, robot type, codec, fps, features,
    cameras, image size). Repairs a dataset a killed recorder left behind (only after that check).
    """
    root = cfg.root
    if holds_nothing_saved(root):
        shutil.rmtree(root)
        log(f"{root}: removed the stage of a first episode that was never saved (a killed run)")
    exists = root.exists() and any(root.iterdir())
    if not cfg.resume:
        if exists:
            raise DatasetError(
                f"{root} already exists and is never overwritten. Either append to it with "
                f"RESUME_RECORDING=1, or record into a new dataset with another RECORD_ROOT "
                f"(or RECORD_REPO_ID), or delete that directory yourself."
            )
        return True, 0
    if not exists:
        log(f"RESUME_RECORDING=1 but {root} does not exist yet: creating a new dataset")
        return True, 0
    info = read_info(root)
    problems = resume_problems(cfg, info)
    if problems:
        raise DatasetError(
            f"cannot resume {root}: recorded with other settings: {'; '.join(problems)}; nothing was "
            "written. Use matching settings or record into a new dataset (another RECORD_ROOT)"
        )
    if (tasks := read_tasks(root)) and cfg.task not in tasks:
        log(f"note: adding task {cfg.task!r} to the dataset's {', '.join(map(repr, tasks))} (allow_new_task)")
    if needs_repair(root):
        log(f"repair: {repair(root).summary()}")
    info = read_info(root)
    have = int(info.get("total_episodes", 0))
    EpisodeSidecar(root).drop_after(have)  # records of episodes a crash rolled back
    return False, have


@dataclass
class BoundaryTiming:
    """Seconds spent at one episode boundary (commit/discard)."""

    attempt: int
    loop_block_s: float  # time the receive loop was blocked handling the boundary frame
    wait_quality_s: float = 0.0
    save_s: float = 0.0
    finalize_s: float = 0.0
    open_s: float = 0.0
    saved_as: int | None = None


def _writes(ev: Event) -> bool:
    """The follower events the writer acts on: an episode opens, gets a frame, is committed or discarded
    (an attempt joined mid-run is never recorded; `Ended` is not final, `Settled` is)."""
    return isinstance(ev, Step | Settled) or (isinstance(ev, Started) and not ev.partial)


class Recorder:
    """Follows the frame stream and writes episodes; dora-free (the node feeds it events)."""

    def __init__(
        self,
        cfg: RecordConfig,
        expects_quality: bool,
        log: Callable[[str], None],
        live: Any = None,
        writer_factory: Callable[..., EpisodeWriter] = EpisodeWriter,
    ) -> None:
        self.cfg = cfg
        self.expects_quality = expects_quality
        self.log = log
        self.live = live
        # One writer per root: a second recorder (or a delete/repair script) refuses before touching it.
        try:
            self._lock = RootLock(cfg.root, "a recorder").acquire()
        except RootInUse as exc:
            raise DatasetError(str(exc)) from None
        try:
            create, have = prepare_dataset(cfg, log)
        except BaseException:
            self._lock.release()
            raise
        self.initial_episodes = have
        self.resumed = not create
        self.intervention = records_intervention(cfg, create, log)
        features = build_features(intervention=self.intervention)
        self.writer = writer_factory(
            cfg.repo_id, cfg.root, cfg.fps, features, cfg.task, cfg.video, create, cfg.robot_type
        )
        self.follower = EpisodeFollower()
        self.sidecar: EpisodeSidecar | None = None if create else EpisodeSidecar(cfg.root)
        # A late record (receive loop) must not be written into the root a commit (writer thread) is
        # about to replace: both hold this lock.
        self._sidecar_lock = threading.Lock()
        self._lost_said = False
        self.cut_off = False  # the node stopped receiving frames mid-run (set by the node)
        self._sim_last_seq: int | None = None  # the sim's last frame, as it said when it stopped
        self._frames_closed = False  # the frame input closed: everything sent was delivered
        self.notes = EpisodeNotes(expects_quality)
        self.saved = have
        self._settled: set[int] = set()  # attempts the writer has committed or discarded
        self.controller_done_after: int | None = None  # last attempt, once the controller says so
        self.discarded_by_policy: list[int] = []
        self.saved_without_report: list[int] = []
        self.saved_with_gaps: list[int] = []  # episodes saved with frames missing (flagged in the sidecar)
        self.timings: list[BoundaryTiming] = []
        self._timing_by_attempt: dict[int, BoundaryTiming] = {}
        self.error: BaseException | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending_frame: Frame | None = None
        self._stalled_rows: list[int] = []  # the open episode's rows served after skipped ticks
        self._rows = 0  # ... and its rows so far
        self._thread: threading.Thread | None = None
        if cfg.writer == "thread":
            self._thread = threading.Thread(target=self._writer_loop, name="recorder-writer", daemon=True)
            self._thread.start()

    # --- inputs (receive loop) -----------------------------------------------------------------------

    @property
    def target_reached(self) -> bool:
        return self.saved >= self.cfg.num_episodes

    def on_frame(self, frame: Frame) -> None:
        t0 = time.perf_counter()
        lost_before = self.follower.stats.lost_in_transit
        events = [ev for ev in self.follower.feed(frame) if _writes(ev)]
        if self.follower.stats.lost_in_transit > lost_before:
            self._say_lost(frame)
        boundary = []
        for ev in events:
            if isinstance(ev, Settled):
                timing = BoundaryTiming(ev.episode, 0.0)
                self._timing_by_attempt[ev.episode] = timing
                boundary.append(timing)
        for ev in events:
            if isinstance(ev, Step):
                # Copy out of the (shared-memory) message buffers before handing over to the writer.
                ev = dataclasses.replace(
                    ev, frame=dataclasses.replace(frame, front=frame.front.copy(), wrist=frame.wrist.copy())
                )
            self._submit(ev)
        for timing in boundary:
            timing.loop_block_s = time.perf_counter() - t0
            self.timings.append(timing)
        if self.live is not None:
            recording = self.follower.recording(frame.episode_index)
            self.live.frame(frame, recording and frame.phase is Phase.RUNNING, self.saved)

    def _say_lost(self, frame: Frame) -> None:
        """The first loss in one line (later ones are counted in the done line): frames the sim sent
        never arrived, so this run did not record everything it simulated."""
        if self._lost_said:
            return
        self._lost_said = True
        stats = self.follower.stats
        attempts = f"; attempts lost so far: {stats.lost_attempts}" if stats.lost_attempts else ""
        self.log(
            f"WARNING: {stats.lost_in_transit} frame(s) the sim sent before tick {frame.tick_index} never "
            f"arrived (a stalled or cut-off link){attempts}; recording goes on, the run will end non-zero"
        )

    def on_last_frame(self, seq: int) -> None:
        self._sim_last_seq = seq

    def on_frames_closed(self) -> None:
        self._frames_closed = True

    def _count_tail_loss(self) -> None:
        """Frames the sim sent after the last one received, when the stream was delivered whole (not cut
        short by a stop): a tail that never arrived, e.g. a kept episode the recorder never saw."""
        if self._sim_last_seq is None or not self._frames_closed:
            return
        lost = self.follower.count_tail_loss(self._sim_last_seq)
        if lost:
            self.log(
                f"WARNING: the last {lost} frame(s) the sim sent (up to its frame {self._sim_last_seq}) "
                "never arrived: what they held was not recorded; the run ends non-zero"
            )

    @property
    def lost_in_transit(self) -> bool:
        return self.follower.stats.lost_in_transit > 0

    def on_quality(self, report: QualityReport) -> None:
        late = self.notes.put_report(report)
        if late is not None and self.sidecar is not None:  # arrived after the timeout: store it now
            with self._sidecar_lock:
                self.sidecar.put(late, quality=report.to_dict())
            self.log(f"late quality report for attempt {report.episode_index} stored with episode {late}")

    @property
    def controller_finished(self) -> bool:
        """The controller said its last attempt was `controller_done_after` and that attempt is settled
        (committed or discarded by the writer, so every earlier one is too): nothing more will come."""
        return self.controller_done_after is not None and self.controller_done_after in self._settled

    def on_annotation(self, data: dict[str, Any]) -> None:
        attempt = int(data["episode_index"])
        if data.get(CONTROLLER_DONE):
            self.controller_done_after = attempt
            return
        fields = {k: v for k, v in data.items() if k != "episode_index"}
        late = self.notes.put_annotation(attempt, fields)
        if late is not None and self.sidecar is not None:
            with self._sidecar_lock:
                self.sidecar.put(late, annotation=fields)

    def on_quality_closed(self) -> None:
        """No report can arrive any more. Said nothing: the frames come through the scorer too, so this
        happens at every normal end; episodes saved without a report are listed in the final summary."""
        self.notes.close_quality()

    def close(self) -> None:
        """Every input closed: settle the open attempt, drain the writer, release everything.

        No report can arrive any more (the event stream delivered everything it had), so episodes
        still waiting for one are saved without it.
        """
        self.on_quality_closed()
        self._count_tail_loss()
        for ev in self.follower.finish():
            self._submit(ev)
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        else:
            self._handle(None)
        if self.live is not None:
            self.live.close()
        if self.cfg.compact_at_end and self.error is None and self.saved > self.initial_episodes:
            self._compact()
        self._lock.release()
        if self.error is not None:
            raise self.error

    def _compact(self) -> None:
        """Pack the finished dataset (under this recorder's lock); a failure leaves it as recorded."""
        self.log(f"packing {self.saved} episodes into lerobot's file sizes (compact_at_end) ...")
        try:
            self.log(compact(self.cfg.root, self.cfg.repo_id).summary(self.cfg.root))
        except Exception as exc:
            self.log(
                f"WARNING: not compacted ({type(exc).__name__}: {exc}); the dataset is whole as recorded, "
                f"`python scripts/compact_dataset.py --root {self.cfg.root}` packs it later"
            )

    # --- writer side -----------------------------------------------------------------------------------

    def _submit(self, item: Any) -> None:
        if self._thread is not None:
            self._queue.put(item)
        else:
            self._handle_once(item)

    def _writer_loop(self) -> None:
        while True:
            item = self._queue.get()
            self._handle_once(item)
            if item is None:
                return

    def _handle_once(self, item: Any) -> None:
        """Handle one item; the first failure is kept (close() raises it) and said in one line, and
        later items are dropped, so the receive loop never blocks on, nor dies of, a broken writer."""
        try:
            self._handle(item)
        except BaseException as exc:
            if self.error is None:
                self.error = exc
                self.log(writer_error_message(exc, self.cfg.root))

    def _handle(self, item: Any) -> None:
        if self.error is not None and item is not None:
            return
        if item is None:
            self.writer.close()
            return
        if isinstance(item, Started):
            self._pending_frame = None
            self._stalled_rows, self._rows = [], 0
            self.writer.open_episode()
        elif isinstance(item, Step):
            if item.stalled:
                self._stalled_rows.append(self._rows)
            self._rows += 1
            if self._pending_frame is not None:
                self.writer.add(
                    frame_to_row(
                        self._pending_frame, self.cfg.task, last=False, intervention=self.intervention
                    )
                )
            self._pending_frame = item.frame
        elif isinstance(item, Settled) and item.kept:
            self._commit(item)
            self._settled.add(item.episode)
        elif isinstance(item, Settled):
            self._pending_frame = None
            self._timing_by_attempt.pop(item.episode, None)
            self.writer.discard()
            self.log(f"attempt {item.episode} not saved: {item.why}")
            self._settled.add(item.episode)

    def _commit(self, c: Settled) -> None:
        timing = self._timing_by_attempt.pop(c.episode, None) or BoundaryTiming(c.episode, 0.0)
        if self._pending_frame is not None:
            self.writer.add(
                frame_to_row(self._pending_frame, self.cfg.task, last=True, intervention=self.intervention)
            )
            self._pending_frame = None
        report: QualityReport | None = None
        if self.expects_quality:
            report, timing.wait_quality_s = self.notes.wait_report(c.episode, self.cfg.quality_timeout_s)
            if report is None:
                self.log(
                    f"WARNING: no quality report for attempt {c.episode} after "
                    f"{timing.wait_quality_s:.1f} s: saving it WITHOUT one (scorer slow or gone?)"
                )
        if self._refused(c, report):
            self.writer.discard()
            return
        saved_as = self._save(c, report)
        timing.save_s = self.writer.last_timing.get("save_s", 0.0)
        timing.finalize_s = self.writer.last_timing.get("finalize_s", 0.0)
        timing.saved_as = saved_as
        if self.saved < self.cfg.num_episodes:
            t0 = time.perf_counter()
            self.writer.open_episode()  # pay the next session's open now, not on the next frame
            timing.open_s = time.perf_counter() - t0

    def _refused(self, c: Settled, report: QualityReport | None) -> bool:
        """Whether a finished episode is not saved after all: the dataset is full, or the quality policy
        discards bad episodes (said on the console and in the live view)."""
        if self.saved >= self.cfg.num_episodes:
            self.log(f"attempt {c.episode} not saved: the dataset already holds {self.saved} episodes")
            return True
        if report is None or self.cfg.quality_policy != "discard" or report.verdict is not Verdict.BAD:
            return False
        self.discarded_by_policy.append(c.episode)
        self.log(
            f"attempt {c.episode} DISCARDED by quality policy: verdict bad, score {report.score:.3f} "
            f"({', '.join(report.reasons) or 'no reasons'})"
        )
        if self.live is not None:
            self.live.quality(c.episode, report, None)
        return True

    def _save(self, c: Settled, report: QualityReport | None) -> int:
        """Commit the episode with its sidecar record; returns its dataset index."""
        index = self.writer.num_episodes
        if self.sidecar is None:
            self.sidecar = EpisodeSidecar(self.cfg.root)
        annotation = self.notes.annotation(c.episode)
        record: dict[str, Any] = {
            "quality": report.to_dict() if report is not None else None,
            ATTEMPT_KEY: c.episode,
            "end_reason": c.reason.value,
            "sim_env": self.cfg.sim_env,  # the env it was recorded in: resume refuses another
        }
        if annotation is not None:
            record["annotation"] = annotation
        if c.missing_frames:
            record["missing_frames"] = c.missing_frames  # flagged, never saved silently
        if self._stalled_rows:
            record[STALLED_KEY] = self._stalled_rows
        sidecar = self.sidecar
        with self._sidecar_lock:  # the record goes into the version the commit makes the root
            saved_as = self.writer.commit(before_visible=lambda tree: sidecar.put(index, into=tree, **record))
        self.notes.saved(c.episode, saved_as)
        self.saved = self.writer.num_episodes
        if report is None and self.expects_quality:
            self.saved_without_report.append(saved_as)
        if c.missing_frames:
            self.saved_with_gaps.append(saved_as)
        score = f", score {report.score:.3f} ({report.verdict.value})" if report is not None else ""
        gap = (
            f", WITH A GAP: {c.missing_frames} frame(s) never arrived, flagged missing_frames in the sidecar"
            if c.missing_frames
            else ""
        )
        self.log(
            f"saved attempt {c.episode} as episode {saved_as} ({c.num_frames} frames, "
            f"{c.reason.value}{score}{gap}); {self.saved}/{self.cfg.num_episodes}"
        )
        if self.live is not None:
            self.live.quality(c.episode, report, saved_as)
        return saved_as

    # --- what the node reports and when it ends the run ------------------------------------------------

    def start_line(self) -> str:
        where = (
            "with quality reports" if self.expects_quality else "without quality reports (no quality input)"
        )
        cfg = self.cfg
        return (
            f"recording {cfg.repo_id} -> {cfg.root} ({'resume, ' if self.resumed else ''}"
            f"{self.initial_episodes} episodes there, target {cfg.num_episodes}, {cfg.fps} fps, "
            f"{cfg.video.codec}, {where})"
        )

    def stop_reason(self) -> str | None:
        """Why the dataflow should stop now (a writer error, the target reached, the controller done)."""
        if self.error is not None:
            return "writer error"
        if self.target_reached:
            return f"{self.saved} episodes recorded (target {self.cfg.num_episodes})"
        if self.controller_finished:
            return f"the controller has finished; {self.saved} episodes in the dataset"
        return None

    def done_line(self) -> str:
        stats = self.follower.stats
        flagged = [
            ("discarded by quality policy", self.discarded_by_policy),
            ("saved WITHOUT report", self.saved_without_report),
            ("saved WITH frame gaps", self.saved_with_gaps),
            ("attempts LOST in transit", stats.lost_attempts),
        ]
        lost = f", LOST in transit {stats.lost_in_transit}" if stats.lost_in_transit else ""
        return (
            f"done: {self.saved - self.initial_episodes} new episode(s), {self.saved} in {self.cfg.root}; "
            f"frames received {stats.received}, recorded {stats.recorded}, dropped {stats.dropped}, "
            f"duplicated {stats.duplicated}{lost}"
            + "".join(f"; {what}: {ids}" for what, ids in flagged if ids)
        )

    def write_stats(self, path: str | Path) -> None:
        """Boundary timings and frame counts as JSON (for scripts/bench_recorder.py)."""
        data = {
            "timings": [dataclasses.asdict(t) for t in self.timings],
            "stats": dataclasses.asdict(self.follower.stats),
            "saved": self.saved,
            "initial": self.initial_episodes,
        }
        Path(path).write_text(json.dumps(data))
