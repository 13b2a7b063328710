"""Every message that crosses a dora edge: channel ids, commands, phases and the wire schemas.

No node builds or parses a message by hand: they call the encode/decode helpers here. Decoding
validates everything a peer could get wrong and raises `MessageError` with a message fit for a log
line, so a receiving node can log it once and carry on with its last valid state.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa

# --- channel (input/output) ids, as written in the dataflow YAML files -------------------------------
TICK = "tick"
ACTION = "action"
CONTROL = "control"
FRAME = "frame"
QUALITY = "quality"
PROGRESS = "progress"
"""The recorder's heartbeat to the sim: the last tick it received (see sim_teleop.sim.watchdog)."""
ACTION_HUMAN = "action_human"
"""The sim's second action input in the eval: a person's (or the corrector's) target, sent only while they
are engaged; the sim's handover rule decides which of the two drives each tick."""
WARM_UP = "warm_up"
"""Metadata key (value True) of a takeover action sent only to open the node's channel before the run
(dora's first send of a node blocks ~1 s): the sim does not let it take over."""
TAKEOVER = "takeover"
"""Metadata key (value True) of the keyboard's first action of a takeover, sent while the sim still let the
policy drive; the eval's clock also hears the keyboard's actions and ticks at once on it
(`TickSchedule.fire_now`), so the key drives the sim within milliseconds. That tick carries the key too:
it may overtake the action on the way, and the sim then serves it when the action arrives."""
LAST_FRAME = "last_frame"
"""The sim's `Frame.seq` of the last frame it emitted, sent as it stops: a consumer that received less
lost the tail of the stream (see sim_teleop.follower)."""

# --- shapes and names ---------------------------------------------------------------------------------
CAMERAS: tuple[str, ...] = ("front", "wrist")
IMAGE_HEIGHT = 128
IMAGE_WIDTH = 128
IMAGE_SHAPE: tuple[int, int, int] = (IMAGE_HEIGHT, IMAGE_WIDTH, 3)
IMAGE_BYTES = IMAGE_HEIGHT * IMAGE_WIDTH * 3

ACTION_NAMES: tuple[str, ...] = ("x", "y", "z", "gripper")
"""Action = target end-effector offset (m) from the episode's start pose, and gripper (0 open .. 1 closed)."""
ACTION_DIM = len(ACTION_NAMES)

STATE_NAMES: tuple[str, ...] = (
    *(f"joint{i}.pos" for i in range(1, 8)),
    *(f"joint{i}.vel" for i in range(1, 8)),
    "gripper",
    "tcp.x",
    "tcp.y",
    "tcp.z",
)
"""gym-hil `agent_pos`: joint positions (rad), joint velocities (rad/s), the gripper command in the
action's unit (0 open .. 1 closed; gym-hil gives 0..255, the sim rescales it), TCP (m)."""
STATE_DIM = len(STATE_NAMES)
STATE_TCP = slice(15, 18)
STATE_GRIPPER = 14
GRIPPER_COMMAND_MAX = 255.0
"""Full scale of gym-hil's gripper actuator (its `agent_pos` reports the command in this unit)."""
LEGACY_STATE_GRIPPER = "gripper.command"
"""The state name of the gripper in datasets recorded before it became 0..1: there it is 0..255."""

CUBE_POSE_NAMES: tuple[str, ...] = ("x", "y", "z", "qw", "qx", "qy", "qz")
CUBE_POSE_DIM = len(CUBE_POSE_NAMES)


class MessageError(ValueError):
    """A message that cannot be decoded; the text says what was wrong, `kind` which sort of wrong.

    Nodes count bad messages per kind and log each kind once, so a peer that sends raw bytes and
    later NaNs shows both problems without flooding the console.
    """

    def __init__(self, message: str, kind: str = "malformed") -> None:
        super().__init__(message)
        self.kind = kind


class Control(StrEnum):
    """Episode control commands (keyboard: Space, Ctrl, Esc; expert/eval runner: automatic)."""

    NEXT = "next"
    RERECORD = "rerecord"
    STOP = "stop"


class Phase(StrEnum):
    """Episode phase stamped on every frame by the sim, the single owner of episode state."""

    RUNNING = "running"
    DONE = "done"
    RESETTING = "resetting"


class EndReason(StrEnum):
    """Why the current episode left `running` (empty while it runs)."""

    NONE = ""
    SUCCESS = "success"
    TIME_LIMIT = "time_limit"
    FAILURE = "failure"  # the env terminated without success (cube pushed out of bounds)
    NEXT = "next"  # finished early by the operator
    RERECORD = "rerecord"  # discarded by the operator

    @property
    def saved(self) -> bool:
        """Whether an episode that ended this way is kept in the dataset."""
        return self not in (EndReason.NONE, EndReason.RERECORD)


# --- helpers ------------------------------------------------------------------------------------------


def _finite_vector(values: Any, size: int, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise MessageError(f"{what}: expected {size} numbers, got {type(values).__name__}", "type") from exc
    if arr.size != size:
        raise MessageError(f"{what}: expected {size} values, got {arr.size}", "length")
    if not np.all(np.isfinite(arr)):
        raise MessageError(f"{what}: contains NaN or inf: {arr.tolist()}", "not_finite")
    return arr


def _as_array(value: Any, what: str) -> pa.Array:
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if not isinstance(value, pa.Array):
        raise MessageError(f"{what}: expected an Arrow array, got {type(value).__name__}", "not_arrow")
    return value


# --- action -------------------------------------------------------------------------------------------


def encode_action(action: Any) -> pa.Array:
    """`[x, y, z, gripper]` -> float32 Arrow array of length 4."""
    return pa.array(_finite_vector(action, ACTION_DIM, "action"), type=pa.float32())


Output = tuple[str, Any, dict[str, Any] | None]
"""(output id, encoded payload, dora metadata or None): what a node's session hands its node to send."""


def warmup_outputs() -> list[Output]:
    """The neutral action, sent by a controller before the first frame: dora's first send of a node
    blocks ~1 s, paid here rather than on the first frame that needs an answer."""
    return [(ACTION, encode_action(np.zeros(ACTION_DIM, np.float32)), None)]


_ACTION_TYPES = (pa.float32(), pa.float64())


def decode_action(value: Any) -> np.ndarray:
    """float32/float64 Arrow array -> float32 (4,); MessageError on any other type, length, NaN or inf."""
    arr = _as_array(value, "action")
    if arr.type not in _ACTION_TYPES:
        # Integers and raw bytes (dora turns `bytes` into uint8) are never an action: refusing them keeps
        # b"abcd" from becoming the target [97, 98, 99, 100].
        raise MessageError(f"action: expected float32 or float64 values, got Arrow type {arr.type}", "type")
    if arr.null_count:
        raise MessageError("action: contains nulls", "nulls")
    return _finite_vector(arr.to_numpy(zero_copy_only=False), ACTION_DIM, "action")


# --- control ------------------------------------------------------------------------------------------


def encode_control(command: Control | str) -> pa.Array:
    return pa.array([Control(command).value], type=pa.string())


def decode_control(value: Any) -> Control:
    arr = _as_array(value, "control")
    if not pa.types.is_string(arr.type) or len(arr) != 1 or arr.null_count:
        raise MessageError(f"control: expected one string, got {len(arr)} x {arr.type}", "type")
    text = arr[0].as_py()
    try:
        return Control(text)
    except ValueError:
        known = ", ".join(c.value for c in Control)
        raise MessageError(f"control: unknown command {text!r} (known: {known})", "unknown_command") from None


# --- tick index (clock -> sim) and progress (recorder -> sim) -----------------------------------------


def encode_tick(index: int) -> pa.Array:
    """A tick index: the clock's `tick`, the recorder's `progress` (the last tick it received)."""
    return pa.array([int(index)], type=pa.uint64())


def decode_tick(value: Any) -> int:
    arr = _as_array(value, "tick")
    if not pa.types.is_integer(arr.type) or len(arr) != 1 or arr.null_count:
        raise MessageError(f"tick: expected one integer, got {len(arr)} x {arr.type}", "type")
    return int(arr[0].as_py())


# --- frame --------------------------------------------------------------------------------------------

_IMAGE_TYPE = pa.binary(IMAGE_BYTES)
FRAME_SCHEMA = pa.struct(
    [
        ("episode_index", pa.int64()),
        ("frame_index", pa.int64()),
        ("phase", pa.string()),
        ("end_reason", pa.string()),
        ("timestamp", pa.float64()),
        ("tick_index", pa.int64()),
        ("ticks_missed", pa.int64()),
        ("state", pa.list_(pa.float32(), STATE_DIM)),
        ("action", pa.list_(pa.float32(), ACTION_DIM)),
        ("reward", pa.float32()),
        ("success", pa.bool_()),
        ("front", _IMAGE_TYPE),
        ("wrist", _IMAGE_TYPE),
        ("cube_pose", pa.list_(pa.float32(), CUBE_POSE_DIM)),
        ("contact_force", pa.float32()),
        ("intervention", pa.bool_()),
    ]
)


@dataclass(slots=True)
class Frame:
    """One sim tick. `cube_pose` and `contact_force` are privileged sim state, not stored by default.

    `frame_index` counts frames of the current phase run of this episode attempt; `episode_index`
    counts episode attempts in this sim session (a re-record starts a new attempt), so the recorder and
    scorer key their per-episode state on it. `timestamp` is seconds since the episode started running.
    """

    episode_index: int
    frame_index: int
    phase: Phase
    timestamp: float
    state: np.ndarray
    action: np.ndarray
    reward: float
    success: bool
    front: np.ndarray
    wrist: np.ndarray
    cube_pose: np.ndarray
    end_reason: EndReason = EndReason.NONE
    tick_index: int = 0
    ticks_missed: int = 0
    contact_force: float = 0.0
    intervention: bool = False
    """A person (or the simulated corrector) drove this tick's step, not the policy: the sim decides and
    stamps it (sim_teleop.sim.handover); everyone else follows the stamp."""

    @property
    def seq(self) -> int:
        """The sim's count of frames it emitted before this one (ticks it skipped itself excluded):
        consecutive frames differ by 1, so a larger step means frames lost on the way."""
        return self.tick_index - self.ticks_missed

    def image(self, camera: str) -> np.ndarray:
        if camera == "front":
            return self.front
        if camera == "wrist":
            return self.wrist
        raise KeyError(camera)


def _image_array(img: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(_IMAGE_TYPE, 1, [None, pa.py_buffer(np.ascontiguousarray(img))])


def encode_frame(frame: Frame) -> pa.StructArray:
    """Frame -> one-row Arrow struct array (images as fixed-size binary, zero-copy on decode)."""
    for cam in CAMERAS:
        img = frame.image(cam)
        if img.shape != IMAGE_SHAPE or img.dtype != np.uint8:
            raise MessageError(
                f"frame: camera {cam} must be uint8 {IMAGE_SHAPE}, got {img.dtype} {img.shape}"
            )
    columns = [
        pa.array([frame.episode_index], pa.int64()),
        pa.array([frame.frame_index], pa.int64()),
        pa.array([Phase(frame.phase).value]),
        pa.array([EndReason(frame.end_reason).value]),
        pa.array([frame.timestamp], pa.float64()),
        pa.array([frame.tick_index], pa.int64()),
        pa.array([frame.ticks_missed], pa.int64()),
        pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(frame.state, np.float32).reshape(-1)), STATE_DIM
        ),
        pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(frame.action, np.float32).reshape(-1)), ACTION_DIM
        ),
        pa.array([frame.reward], pa.float32()),
        pa.array([bool(frame.success)]),
        _image_array(frame.front),
        _image_array(frame.wrist),
        pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(frame.cube_pose, np.float32).reshape(-1)), CUBE_POSE_DIM
        ),
        pa.array([frame.contact_force], pa.float32()),
        pa.array([bool(frame.intervention)]),
    ]
    return pa.StructArray.from_arrays(columns, fields=list(FRAME_SCHEMA))


def _image(arr: pa.Array, name: str) -> np.ndarray:
    buf = arr.buffers()[1]
    start = arr.offset * IMAGE_BYTES
    return np.frombuffer(buf, dtype=np.uint8, count=IMAGE_BYTES, offset=start).reshape(IMAGE_SHAPE)


def decode_frame(value: Any) -> Frame:
    """One-row struct array -> Frame; raises MessageError when the schema or values are wrong."""
    arr = _as_array(value, "frame")
    if arr.type != FRAME_SCHEMA:
        raise MessageError(f"frame: unexpected schema {arr.type}")
    if len(arr) != 1:
        raise MessageError(f"frame: expected one row, got {len(arr)}")
    if arr.null_count or any(arr.field(i).null_count for i in range(arr.type.num_fields)):
        raise MessageError("frame: contains nulls")
    row = {name: arr.field(name) for name in FRAME_SCHEMA.names}
    try:
        phase = Phase(row["phase"][0].as_py())
        end_reason = EndReason(row["end_reason"][0].as_py())
    except ValueError as exc:
        raise MessageError(f"frame: {exc}") from None
    return Frame(
        episode_index=row["episode_index"][0].as_py(),
        frame_index=row["frame_index"][0].as_py(),
        phase=phase,
        end_reason=end_reason,
        timestamp=row["timestamp"][0].as_py(),
        tick_index=row["tick_index"][0].as_py(),
        ticks_missed=row["ticks_missed"][0].as_py(),
        state=row["state"].flatten().to_numpy(),
        action=row["action"].flatten().to_numpy(),
        reward=row["reward"][0].as_py(),
        success=row["success"][0].as_py(),
        front=_image(row["front"], "front"),
        wrist=_image(row["wrist"], "wrist"),
        cube_pose=row["cube_pose"].flatten().to_numpy(),
        contact_force=row["contact_force"][0].as_py(),
        intervention=row["intervention"][0].as_py(),
    )


# --- quality report -----------------------------------------------------------------------------------


class Verdict(StrEnum):
    GOOD = "good"
    BAD = "bad"


@dataclass(slots=True)
class QualityReport:
    """Per-episode quality: raw metric values, [0,1] sub-scores, aggregate, verdict and reason codes."""

    episode_index: int
    score: float
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    subscores: dict[str, float] = field(default_factory=dict)
    success: bool = False
    num_frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = Verdict(self.verdict).value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        try:
            report = cls(
                episode_index=int(data["episode_index"]),
                score=float(data["score"]),
                verdict=Verdict(data["verdict"]),
                reasons=[str(r) for r in data.get("reasons", [])],
                metrics={str(k): float(v) for k, v in data.get("metrics", {}).items()},
                subscores={str(k): float(v) for k, v in data.get("subscores", {}).items()},
                success=bool(data.get("success", False)),
                num_frames=int(data.get("num_frames", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageError(f"quality: malformed report: {exc}") from None
        if not math.isfinite(report.score):
            raise MessageError("quality: score is not finite")
        return report


def encode_quality(report: QualityReport) -> pa.Array:
    return pa.array([json.dumps(report.to_dict())], type=pa.string())


def _json_object(value: Any, what: str) -> dict[str, Any]:
    """One-string Arrow array holding a JSON object -> dict."""
    arr = _as_array(value, what)
    if not pa.types.is_string(arr.type) or len(arr) != 1 or arr.null_count:
        raise MessageError(f"{what}: expected one JSON string, got {len(arr)} x {arr.type}")
    try:
        data = json.loads(arr[0].as_py())
    except json.JSONDecodeError as exc:
        raise MessageError(f"{what}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MessageError(f"{what}: expected a JSON object")
    return data


def decode_quality(value: Any) -> QualityReport:
    return QualityReport.from_dict(_json_object(value, "quality"))


# --- annotation ---------------------------------------------------------------------------------------
ANNOTATION = "annotation"
"""Controller -> recorder: facts about an episode attempt known only to the controller (e.g. the defects an
expert injected), stored beside the dataset with the episode. JSON object with an `episode_index` (the
sim's attempt index) and any other JSON-serialisable fields."""


def encode_annotation(episode_index: int, fields: dict[str, Any]) -> pa.Array:
    return pa.array([json.dumps({"episode_index": int(episode_index), **fields})], type=pa.string())


CONTROLLER_DONE = "controller_done"
"""Annotation field: the controller has produced its last attempt (the one named by `episode_index`) and
leaves the sim idle; the recorder ends the run once that attempt is settled (see
sim_teleop.recorder.session)."""


def decode_annotation(value: Any) -> dict[str, Any]:
    data = _json_object(value, "annotation")
    if not isinstance(data.get("episode_index"), int):
        raise MessageError("annotation: expected a JSON object with an integer episode_index")
    return data
