"""The recorder: sim frames (+ quality reports, annotations) -> a crash-safe LeRobotDataset v3.0.

Configuration: a JSON file (`configs/record.json`; another one with RECORD_CONFIG=path, as the
autopilot and eval dataflows do), then environment variables for what users change often.
Keys accepted in the JSON file (all optional; defaults in brackets):

- `repo_id` ["local/sim_teleop_pick"]               env RECORD_REPO_ID
- `root` [outputs/record/<name part of repo_id>]   env RECORD_ROOT (relative: from the repository root)
- `task` ["Pick up the cube."]                      env RECORD_TASK
- `num_episodes` [10]: stop the dataflow once the dataset holds this many   env RECORD_NUM_EPISODES
- `resume` [false]: append to an existing dataset  env RESUME_RECORDING=1
- `fps` [10]: must equal the sim's tick rate (dora/timer/millis/100 -> 10)
- `robot_type` ["franka_panda_gym_hil"]
- `video`: {`codec` ["libsvtav1"; "h264" also works], `crf` [30], `gop` [2],
            `streaming` [true; false = lerobot's PNG-then-encode, slow, for comparisons]}
- `writer` ["thread"]: "thread" saves off the receive loop; "inline" blocks it like lerobot's script
- `quality`: {`policy` ["flag": keep every episode, store the verdict | "discard": drop episodes the
              scorer judged bad (its threshold lives in configs/quality.json)],
              `timeout_s` [60: how long a finished episode waits for its report before it is saved
              without one, loudly]}   env RECORD_QUALITY_POLICY
- `rerun` ["auto"; spawn/save/off]                  env RECORD_RERUN
- `rrd_path` [null; <root>.rrd when rerun=save and unset]   env RECORD_RRD_PATH
- `rerun_port` [9876, rerun's default: an open viewer there is reused]   env RECORD_RERUN_PORT
- `compact_at_end` [false]: pack the dataset into lerobot's file sizes at the end of a session
  (scripts/compact_dataset.py does it later; recording resumes on a packed dataset)   env RECORD_COMPACT=1

Quality reports arrive on their own input, keyed by the sim's attempt index; when the node has a
`quality` input a finished episode is saved only with its report (or after the timeout), while frames
of the next attempt keep being received and buffered. Per saved episode the sidecar
(`meta/episode_sidecar.jsonl`, keyed by the dataset episode index) holds `quality`, `sim_episode_index`,
`end_reason` and the controller's `annotation` when one arrived.
"""

from __future__ import annotations

import dataclasses
import errno
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim_teleop.config import REPO_ROOT, ConfigError, env_bool, env_int, env_str, load_json
from sim_teleop.dataset import DatasetError
from sim_teleop.dataset.compact import compact
from sim_teleop.dataset.features import build_features, camera_key, compat_problems, frame_to_row
from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.reader import read_info, video_codec
from sim_teleop.dataset.repair import holds_nothing_saved, needs_repair, repair
from sim_teleop.dataset.sidecar import EpisodeSidecar
from sim_teleop.dataset.store import EpisodeWriter, VideoSettings, same_codec
from sim_teleop.messages import CAMERAS, CONTROLLER_DONE, Frame, QualityReport, Verdict
from sim_teleop.recorder.episodes import Add, Commit, Discard, EpisodeTracker, Start

DEFAULT_CONFIG = "configs/record.json"
POLICIES = ("flag", "discard")


@dataclass(frozen=True)
class RecordConfig:
    repo_id: str = "local/sim_teleop_pick"
    root: Path = REPO_ROOT / "outputs" / "record" / "sim_teleop_pick"
    task: str = "Pick up the cube."
    num_episodes: int = 10
    resume: bool = False
    fps: int = 10
    robot_type: str = "franka_panda_gym_hil"
    video: VideoSettings = field(default_factory=VideoSettings)
    writer: str = "thread"
    quality_policy: str = "flag"
    quality_timeout_s: float = 60.0
    rerun: str = "auto"
    rrd_path: str | None = None
    rerun_port: int = 9876
    compact_at_end: bool = False  # pack the dataset into lerobot's file sizes when the session ends

    @classmethod
    def load(cls, path: str | Path | None = None) -> RecordConfig:
        """Read the JSON config (RECORD_CONFIG or configs/record.json) and apply env overrides."""
        path = path or env_str("RECORD_CONFIG", DEFAULT_CONFIG)
        data = load_json(path)
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> RecordConfig:
        known = {
            "repo_id",
            "root",
            "task",
            "num_episodes",
            "resume",
            "fps",
            "robot_type",
            "video",
            "writer",
            "quality",
            "rerun",
            "rrd_path",
            "rerun_port",
            "compact_at_end",
            "comment",
            "_comment",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {unknown}; known: {sorted(known - {'comment', '_comment'})}"
            )

        def get(key: str, typ: type, default: Any, section: dict | None = None) -> Any:
            src = data if section is None else section
            value = src.get(key, default)
            if value is None:
                return default
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                raise ConfigError(f"{where}: {key!r} must be {typ.__name__}, got {value!r}")
            return value

        video_d = data.get("video") or {}
        quality_d = data.get("quality") or {}
        if not isinstance(video_d, dict) or not isinstance(quality_d, dict):
            raise ConfigError(f"{where}: 'video' and 'quality' must be JSON objects")

        repo_id = env_str("RECORD_REPO_ID", get("repo_id", str, cls.repo_id))
        if not repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise ConfigError(f"repo_id {repo_id!r}: expected '<user>/<name>'")
        root_s = env_str("RECORD_ROOT", get("root", str, ""))
        root = Path(root_s) if root_s else Path("outputs") / "record" / repo_id.split("/")[1]
        if not root.is_absolute():
            root = REPO_ROOT / root
        num = env_int("RECORD_NUM_EPISODES", get("num_episodes", int, cls.num_episodes), minimum=1)
        if num < 1:
            raise ConfigError(f"{where}: num_episodes must be >= 1, got {num}")
        fps = get("fps", int, cls.fps)
        if fps < 1:
            raise ConfigError(f"{where}: fps must be >= 1")
        policy = env_str("RECORD_QUALITY_POLICY", get("policy", str, "flag", quality_d)).lower()
        if policy not in POLICIES:
            raise ConfigError(f"quality policy {policy!r}: expected one of {POLICIES}")
        writer = get("writer", str, cls.writer)
        if writer not in ("thread", "inline"):
            raise ConfigError(f"{where}: writer {writer!r}: expected 'thread' or 'inline'")
        rerun = env_str("RECORD_RERUN", get("rerun", str, cls.rerun)).lower()
        if rerun not in ("auto", "spawn", "save", "off"):
            raise ConfigError(f"RECORD_RERUN={rerun!r}: expected auto, spawn, save or off")
        rrd = env_str("RECORD_RRD_PATH", get("rrd_path", str, "")) or None
        if rerun == "save" and not rrd:
            rrd = str(root.with_suffix(".rrd"))
        video = VideoSettings(
            codec=get("codec", str, "libsvtav1", video_d),
            crf=get("crf", int, 30, video_d),
            g=get("gop", int, 2, video_d),
            streaming=get("streaming", bool, True, video_d),
        )
        return cls(
            repo_id=repo_id,
            root=root,
            task=env_str("RECORD_TASK", get("task", str, cls.task)),
            num_episodes=num,
            resume=env_bool("RESUME_RECORDING", get("resume", bool, False)),
            fps=fps,
            robot_type=get("robot_type", str, cls.robot_type),
            video=video,
            writer=writer,
            quality_policy=policy,
            quality_timeout_s=get("timeout_s", float, 60.0, quality_d),
            rerun=rerun,
            rrd_path=rrd,
            rerun_port=env_int("RECORD_RERUN_PORT", get("rerun_port", int, cls.rerun_port), minimum=1),
            compact_at_end=env_bool("RECORD_COMPACT", get("compact_at_end", bool, cls.compact_at_end)),
        )


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


def prepare_dataset(cfg: RecordConfig, log: Callable[[str], None]) -> tuple[bool, int]:
    """Check the root before anything is written. Returns (create, episodes already in the dataset).

    Refuses (DatasetError, nothing written) when the root exists without resume, or when resuming
    into a dataset recorded with another fps, features, cameras or image size. Repairs a dataset a
    killed recorder left behind (only after the compatibility check passed).
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
    problems = compat_problems(info, cfg.fps, build_features())
    if problems:
        raise DatasetError(
            f"cannot resume {root}: it was recorded with different settings, nothing was written:\n  - "
            + "\n  - ".join(problems)
            + "\nRecord into a new dataset (another RECORD_ROOT / RECORD_REPO_ID) or use matching settings."
        )
    if needs_repair(root):
        log(f"repair: {repair(root).summary()}")
    info = read_info(root)
    have = int(info.get("total_episodes", 0))
    EpisodeSidecar(root).drop_after(have)  # records of episodes a crash rolled back
    codec = video_codec(info, camera_key(CAMERAS[0]))
    if codec and not same_codec(codec, cfg.video.codec):
        log(f"note: the dataset's videos use {codec}; new episodes use {cfg.video.codec}")
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
        self.writer = writer_factory(
            cfg.repo_id, cfg.root, cfg.fps, build_features(), cfg.task, cfg.video, create, cfg.robot_type
        )
        self.tracker = EpisodeTracker()
        self.sidecar: EpisodeSidecar | None = None if create else EpisodeSidecar(cfg.root)
        self._cond = threading.Condition()
        self._reports: dict[int, QualityReport] = {}
        self._annotations: dict[int, dict[str, Any]] = {}
        self._saved_as: dict[int, int] = {}  # sim attempt -> dataset episode index
        self._quality_closed = not expects_quality
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
        decisions = self.tracker.feed(frame)
        boundary = []
        for d in decisions:
            if isinstance(d, Commit | Discard):
                timing = BoundaryTiming(d.attempt, 0.0)
                self._timing_by_attempt[d.attempt] = timing
                boundary.append(timing)
        for d in decisions:
            if isinstance(d, Add):
                # Copy out of the (shared-memory) message buffers before handing over to the writer.
                d = Add(
                    d.attempt, dataclasses.replace(frame, front=frame.front.copy(), wrist=frame.wrist.copy())
                )
            self._submit(d)
        for timing in boundary:
            timing.loop_block_s = time.perf_counter() - t0
            self.timings.append(timing)
        if self.live is not None:
            cur = self.tracker.current
            recording = cur is not None and cur.index == frame.episode_index and not cur.skipped
            self.live.frame(frame, recording and frame.phase.value == "running", self.saved)

    def on_quality(self, report: QualityReport) -> None:
        with self._cond:
            self._reports[report.episode_index] = report
            late = self._saved_as.get(report.episode_index)
            self._cond.notify_all()
        if late is not None and self.sidecar is not None:  # arrived after the timeout: store it now
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
        with self._cond:
            self._annotations[attempt] = fields
            late = self._saved_as.get(attempt)
        if late is not None and self.sidecar is not None:
            self.sidecar.put(late, annotation=fields)

    def on_quality_closed(self) -> None:
        """No report can arrive any more. Said nothing: the frames come through the scorer too, so this
        happens at every normal end; episodes saved without a report are listed in the final summary."""
        with self._cond:
            self._quality_closed = True
            self._cond.notify_all()

    def close(self) -> None:
        """Every input closed: settle the open attempt, drain the writer, release everything.

        No report can arrive any more (the event stream delivered everything it had), so episodes
        still waiting for one are saved without it.
        """
        self.on_quality_closed()
        for d in self.tracker.finish():
            self._submit(d)
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
        if isinstance(item, Start):
            self._pending_frame = None
            self.writer.open_episode()
        elif isinstance(item, Add):
            if self._pending_frame is not None:
                self.writer.add(frame_to_row(self._pending_frame, self.cfg.task, last=False))
            self._pending_frame = item.frame
        elif isinstance(item, Commit):
            self._commit(item)
            self._settled.add(item.attempt)
        elif isinstance(item, Discard):
            self._pending_frame = None
            self._timing_by_attempt.pop(item.attempt, None)
            self.writer.discard()
            self.log(f"attempt {item.attempt} not saved: {item.why}")
            self._settled.add(item.attempt)

    def _wait_report(self, attempt: int) -> tuple[QualityReport | None, float]:
        t0 = time.perf_counter()
        deadline = t0 + self.cfg.quality_timeout_s
        with self._cond:
            while attempt not in self._reports and not self._quality_closed:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(timeout=left)
            return self._reports.get(attempt), time.perf_counter() - t0

    def _commit(self, c: Commit) -> None:
        timing = self._timing_by_attempt.pop(c.attempt, None) or BoundaryTiming(c.attempt, 0.0)
        if self._pending_frame is not None:
            self.writer.add(frame_to_row(self._pending_frame, self.cfg.task, last=True))
            self._pending_frame = None
        report: QualityReport | None = None
        if self.expects_quality:
            report, timing.wait_quality_s = self._wait_report(c.attempt)
            if report is None:
                self.log(
                    f"WARNING: no quality report for attempt {c.attempt} after "
                    f"{timing.wait_quality_s:.1f} s: saving it WITHOUT one (scorer slow or gone?)"
                )
        if self.saved >= self.cfg.num_episodes:
            self.writer.discard()
            self.log(f"attempt {c.attempt} not saved: the dataset already holds {self.saved} episodes")
            return
        if report is not None and self.cfg.quality_policy == "discard" and report.verdict is Verdict.BAD:
            self.writer.discard()
            self.discarded_by_policy.append(c.attempt)
            self.log(
                f"attempt {c.attempt} DISCARDED by quality policy: verdict bad, score {report.score:.3f} "
                f"({', '.join(report.reasons) or 'no reasons'})"
            )
            if self.live is not None:
                self.live.quality(c.attempt, report, None)
            return
        index = self.writer.num_episodes
        if self.sidecar is None:
            self.sidecar = EpisodeSidecar(self.cfg.root)
        with self._cond:
            annotation = self._annotations.get(c.attempt)
        record: dict[str, Any] = {
            "quality": report.to_dict() if report is not None else None,
            "sim_episode_index": c.attempt,
            "end_reason": c.end_reason.value,
        }
        if annotation is not None:
            record["annotation"] = annotation
        if c.missing_frames:
            record["missing_frames"] = c.missing_frames  # flagged, never saved silently
        sidecar = self.sidecar
        # The record lands just before the episode becomes visible (see sidecar.py for a kill between).
        saved_as = self.writer.commit(before_visible=lambda: sidecar.put(index, **record))
        with self._cond:
            self._saved_as[c.attempt] = saved_as
            self.saved = self.writer.num_episodes
        if report is None and self.expects_quality:
            self.saved_without_report.append(saved_as)
        if c.missing_frames:
            self.saved_with_gaps.append(saved_as)
        timing.save_s = self.writer.last_timing.get("save_s", 0.0)
        timing.finalize_s = self.writer.last_timing.get("finalize_s", 0.0)
        timing.saved_as = saved_as
        score = f", score {report.score:.3f} ({report.verdict.value})" if report is not None else ""
        gap = (
            f", WITH A GAP: {c.missing_frames} frame(s) never arrived, flagged missing_frames in the sidecar"
            if c.missing_frames
            else ""
        )
        self.log(
            f"saved attempt {c.attempt} as episode {saved_as} ({c.num_frames} frames, "
            f"{c.end_reason.value}{score}{gap}); {self.saved}/{self.cfg.num_episodes}"
        )
        if self.live is not None:
            self.live.quality(c.attempt, report, saved_as)
        if self.saved < self.cfg.num_episodes:
            t0 = time.perf_counter()
            self.writer.open_episode()  # pay the next session's open now, not on the next frame
            timing.open_s = time.perf_counter() - t0
