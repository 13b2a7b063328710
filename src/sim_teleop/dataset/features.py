"""Every feature key of this project's datasets, the feature layout, and the frame -> row mapping.

The layout is the one lerobot's gym_manipulator records, so lerobot-train takes it; the policy's input
and output names are the same keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim_teleop.messages import ACTION_NAMES, CAMERAS, IMAGE_SHAPE, LEGACY_STATE_GRIPPER, STATE_NAMES, Frame

STATE_KEY = "observation.state"
ACTION_KEY = "action"
IMAGE_PREFIX = "observation.images."
REWARD_KEY = "next.reward"
SUCCESS_KEY = "next.success"
DONE_KEY = "next.done"
INTERVENTION_KEY = "intervention"
"""Per-frame bool: a person (or the simulated corrector) drove this frame, not the policy. LeRobot's name
and dtype (its DAgger rollout records the same); stored in eval datasets only (`RecordConfig.intervention`),
where a policy is what normally drives."""
SUCCESS_KEYS = (SUCCESS_KEY, "success")
"""Where a success flag may be: ours, or the bare name some other recorders use (offline scoring)."""
DEFAULT_FEATURE_KEYS = ("timestamp", "frame_index", "episode_index", "index", "task_index")
"""Columns lerobot adds to every dataset."""


def camera_key(camera: str) -> str:
    return f"{IMAGE_PREFIX}{camera}"


IMAGE_KEYS = {cam: camera_key(cam) for cam in CAMERAS}


def build_features(
    cameras: tuple[str, ...] = CAMERAS, image_shape: tuple[int, ...] = IMAGE_SHAPE, intervention: bool = False
) -> dict:
    """The dataset features: the layout lerobot's gym_manipulator records, so lerobot-train takes it;
    `intervention`: with the per-frame takeover flag (eval datasets)."""
    features: dict[str, dict[str, Any]] = {
        ACTION_KEY: {"dtype": "float32", "shape": (len(ACTION_NAMES),), "names": list(ACTION_NAMES)},
        STATE_KEY: {"dtype": "float32", "shape": (len(STATE_NAMES),), "names": list(STATE_NAMES)},
    }
    for cam in cameras:
        features[camera_key(cam)] = {
            "dtype": "video",
            "shape": tuple(image_shape),
            "names": ["height", "width", "channels"],
        }
    features[REWARD_KEY] = {"dtype": "float32", "shape": (1,), "names": None}
    features[SUCCESS_KEY] = {"dtype": "bool", "shape": (1,), "names": None}
    features[DONE_KEY] = {"dtype": "bool", "shape": (1,), "names": None}
    if intervention:
        features[INTERVENTION_KEY] = {"dtype": "bool", "shape": (1,), "names": None}
    return features


def frame_to_row(
    frame: Frame, task: str, last: bool, cameras: tuple[str, ...] = CAMERAS, intervention: bool = False
) -> dict[str, Any]:
    """A sim frame -> the dict `LeRobotDataset.add_frame` takes. `last`: the episode's final frame;
    `intervention`: the dataset stores the takeover flag."""
    row: dict[str, Any] = {
        ACTION_KEY: np.asarray(frame.action, np.float32).copy(),
        STATE_KEY: np.asarray(frame.state, np.float32).copy(),
        REWARD_KEY: np.array([frame.reward], np.float32),
        SUCCESS_KEY: np.array([bool(frame.success)]),
        DONE_KEY: np.array([bool(last)]),
        "task": task,
    }
    if intervention:
        row[INTERVENTION_KEY] = np.array([bool(frame.intervention)])
    for cam in cameras:
        row[camera_key(cam)] = np.array(frame.image(cam), dtype=np.uint8, copy=True)
    return row


def has_intervention(info: dict[str, Any]) -> bool:
    return INTERVENTION_KEY in info.get("features", {})


def feature_names(info: dict[str, Any], key: str) -> list[str]:
    """The element names of feature `key` a dataset's info.json declares (empty when it declares none).

    Some recorders give a dict of lists (`{"motors": [...]}`): its lists, in order."""
    names = (info.get("features", {}).get(key) or {}).get("names") or []
    if isinstance(names, dict):
        return [str(n) for group in names.values() for n in (group if isinstance(group, list) else [group])]
    return [str(n) for n in names]


def state_names(info: dict[str, Any]) -> list[str]:
    return feature_names(info, STATE_KEY)


def action_names(info: dict[str, Any]) -> list[str]:
    return feature_names(info, ACTION_KEY)


def feature_dim(info: dict[str, Any], key: str) -> int | None:
    """The length of a 1-D feature (None when info.json does not say)."""
    shape = (info.get("features", {}).get(key) or {}).get("shape") or []
    return int(shape[0]) if len(shape) == 1 else None


def camera_names(info: dict[str, Any]) -> list[str]:
    """The dataset's video cameras, as named in `observation.images.<name>`."""
    features = info.get("features", {})
    return [k.removeprefix(IMAGE_PREFIX) for k, ft in features.items() if (ft or {}).get("dtype") == "video"]


def has_success(info: dict[str, Any]) -> bool:
    """Whether the dataset records task success (a column `DataFile` reads)."""
    return any(key in info.get("features", {}) for key in SUCCESS_KEYS)


# --- compatibility ----------------------------------------------------------------------------------


def _norm_feature(ft: dict) -> dict:
    names = ft.get("names")
    if isinstance(names, dict):
        names = {k: list(v) for k, v in names.items()}
    elif names is not None:
        names = list(names)
    return {"dtype": ft.get("dtype"), "shape": list(ft.get("shape", [])), "names": names}


def _is_camera(ft: dict) -> bool:
    return ft.get("dtype") in ("video", "image")


def _feature_problem(key: str, have: dict, want: dict, cameras: list[str], same_unit: bool) -> str | None:
    if key not in have:
        return f"feature {key!r} is missing from the dataset"
    if key not in want:
        return f"dataset has feature {key!r} that this recording does not produce"
    a, b = _norm_feature(have[key]), _norm_feature(want[key])
    if a == b or not same_unit:
        return None
    what = "image size" if key in cameras and a["shape"] != b["shape"] else "feature"
    return f"{what} {key!r}: dataset has {a}, this recording has {b}"


def compat_problems(info: dict, fps: int, features: dict) -> list[str]:
    """Why a dataset with `info` cannot be appended to with `fps`/`features` (empty list: it can)."""
    problems = []
    legacy = LEGACY_STATE_GRIPPER in state_names(info)
    if legacy:
        problems.append(
            f"{STATE_KEY}: the dataset stores the gripper as {LEGACY_STATE_GRIPPER!r} in 0..255 "
            "(recorded before the gripper became 0..1 in state and action); appending would mix units"
        )
    if int(info.get("fps", -1)) != int(fps):
        problems.append(f"fps: dataset has {info.get('fps')}, this recording runs at {fps}")
    have = {k: v for k, v in info.get("features", {}).items() if k not in DEFAULT_FEATURE_KEYS}
    want = {k: v for k, v in features.items() if k not in DEFAULT_FEATURE_KEYS}
    have_cams = sorted(k for k, v in have.items() if _is_camera(v))
    want_cams = sorted(k for k, v in want.items() if _is_camera(v))
    if have_cams != want_cams:
        problems.append(f"cameras: dataset has {have_cams}, this recording has {want_cams}")
    for key in sorted(set(have) | set(want)):
        # the legacy gripper unit is already named above, not again as a feature difference
        problem = _feature_problem(key, have, want, want_cams, same_unit=not (legacy and key == STATE_KEY))
        if problem:
            problems.append(problem)
    return problems
