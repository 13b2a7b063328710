"""Configuration, one way for every node: dataclass defaults -> a JSON file -> env overrides -> checks.

A config is a frozen dataclass deriving from `Config`; each field may name its env var, its JSON key and
its range or choices (`setting`). Bad values fail early with one line naming the file or variable and
the bad value, never a traceback from deep inside a node. `RunConfig` holds what all nodes of a
dataflow share (fps, episode count, dataset root).
"""

from __future__ import annotations

import collections.abc
import json
import math
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

REPO_ROOT = Path(__file__).resolve().parents[2]


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the text says which and how to fix it."""


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value if value else default


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


VERBOSE_ENV = "SIM_TELEOP_VERBOSE"


def verbose_requested() -> bool:
    """SIM_TELEOP_VERBOSE=1: every line of dora and of the libraries (the console and the nodes agree)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in _TRUE


def load_json(path: str | Path) -> dict[str, Any]:
    """Load a JSON config file; relative paths are taken from the repository root."""
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = REPO_ROOT / p
    if not p.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a JSON object at the top level")
    return data


# --- one mechanism: dataclass defaults -> a JSON file -> env overrides -> validation -------------------

_IGNORED_KEYS = ("comment", "description")  # free text in a config file; so is any key starting with "_"
_NONE_WORDS = ("none", "off")  # an optional field set to nothing from the environment


def setting(
    default: Any = MISSING,
    *,
    env: str | None = None,
    key: str | None = None,
    choices: Sequence[Any] | None = None,
    min: float | None = None,
    max: float | None = None,
    zero_is_none: bool = False,
    parse: Callable[[Any, str], Any] | None = None,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A config field: its default, the env var that overrides it, its JSON key (dotted for a section,
    "video.gop"; default: the field name) and its checks. `parse(value, label)` replaces the type
    conversion for a field whose JSON form differs from its type; it must accept its own output."""
    meta: dict[str, Any] = {"env": env, "key": key, "choices": choices, "min": min, "max": max}
    meta |= {"zero_is_none": zero_is_none, "parse": parse}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


class Config:
    """Base of every configuration dataclass (frozen): typed, checked fields, loaded one way.

    `from_dict` takes a JSON object, then the env vars the fields name; `__post_init__` converts and
    checks every field against its annotation and declared range/choices (also for values set in code),
    then calls `validate` for cross-field rules and derived values.
    """

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            label = f"{type(self).__name__}.{f.name}"
            checked = _convert(value, _hints(type(self))[f.name], f.metadata, label)
            if checked is not value:
                object.__setattr__(self, f.name, checked)
        self.validate()

    def validate(self) -> None:
        """Cross-field rules and derived values (set with object.__setattr__); raise ConfigError."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "config", *, partial: bool = False) -> Self:
        """Defaults, overridden by `data` (a JSON object read from `where`), then by env vars.

        `partial`: `data` may hold keys of other configs sharing the file (they are ignored)."""
        if not partial:
            _reject_unknown(cls, data, where)
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if not f.init:
                continue
            hint, key = _hints(cls)[f.name], f.metadata.get("key") or f.name
            found, raw = _lookup(data, key, where)
            if found and (raw is not None or _optional(hint)):
                values[f.name] = _convert(raw, hint, f.metadata, f"{where}: {key}")
            var = f.metadata.get("env")
            text = os.environ.get(var, "").strip() if var else ""
            if var and text:
                values[f.name] = _convert(_parse_env(var, text, hint), hint, f.metadata, var)
        make: Callable[..., Self] = cls
        try:
            return make(**values)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    @classmethod
    def from_env(cls) -> Self:
        """Defaults, then the env vars the fields name (a node's settings with no file of their own)."""
        return cls.from_dict({}, where=cls.__name__)

    @classmethod
    def from_file(cls, path: str | Path, *, partial: bool = False) -> Self:
        """`from_dict` of a JSON file (relative paths from the repository root)."""
        return cls.from_dict(load_json(path), where=str(path), partial=partial)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field annotations of a config class (cached: resolving them is slow)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _lookup(data: Mapping[str, Any], key: str, where: str) -> tuple[bool, Any]:
    node: Any = data
    for part in key.split("."):
        if node is None:
            return False, None
        if not isinstance(node, Mapping):
            raise ConfigError(f"{where}: the section of {key!r} must be a JSON object, got {node!r}")
        if part not in node:
            return False, None
        node = node[part]
    return True, node


def _reject_unknown(cls: type, data: Mapping[str, Any], where: str) -> None:
    known: dict[str, set[str]] = {"": set()}
    for f in fields(cls):
        head, _, rest = (f.metadata.get("key") or f.name).partition(".")
        known[""].add(head)
        if rest:
            known.setdefault(head, set()).add(rest)
    for section, names in known.items():
        part = data if not section else data.get(section)
        if not isinstance(part, Mapping):
            continue
        unknown = sorted(k for k in part if k not in names and k not in _IGNORED_KEYS and k[:1] != "_")
        if unknown:
            inside = f" in {section!r}" if section else ""
            raise ConfigError(f"{where}: unknown keys {unknown}{inside} (known: {sorted(names)})")


def _parse_env(var: str, text: str, hint: Any) -> Any:
    """An env var's text as the field's type (a number, a bool word, a path, or none/off for None)."""
    if _optional(hint):
        if text.lower() in _NONE_WORDS:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    try:
        if hint is bool:
            return _bool_word(text)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
    except ValueError:
        what = "an integer" if hint is int else "a number"
        raise ConfigError(f"{var}={text!r}: expected {what}") from None
    return text  # str and Path: the conversion takes it from here


def _bool_word(text: str) -> bool:
    word = text.lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(text)


def _convert(value: Any, hint: Any, meta: Mapping[str, Any], label: str) -> Any:
    """`value` as the annotated type, checked against the field's declared range and choices."""
    parse = meta.get("parse")
    value = parse(value, label) if parse else _as_type(value, hint, label)
    if isinstance(value, str) and meta.get("choices") is not None:
        value = value.lower()
    if meta.get("zero_is_none") and value == 0:
        return None
    for item in value if isinstance(value, tuple) else (value,):
        _check(item, meta, label)
    return value


def _check(value: Any, meta: Mapping[str, Any], label: str) -> None:
    choices, low, high = meta.get("choices"), meta.get("min"), meta.get("max")
    if choices is not None and value not in choices:
        raise ConfigError(f"{label}={value!r}: expected one of {', '.join(map(str, choices))}")
    if isinstance(value, int | float) and value is not None:
        if low is not None and value < low:
            raise ConfigError(f"{label}={value!r}: must be >= {low}")
        if high is not None and value > high:
            raise ConfigError(f"{label}={value!r}: must be <= {high}")


def _as_type(value: Any, hint: Any, label: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _as_type(value, next(a for a in args if a is not type(None)), label)
    if origin is tuple and isinstance(value, list | tuple):
        return _as_tuple(value, args, label)
    if origin in (dict, collections.abc.Mapping) and isinstance(value, Mapping):
        return {str(k): _as_type(v, args[1], f"{label}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Config) and isinstance(value, Mapping):
        return hint.from_dict(value, where=label)
    return _as_scalar(value, hint, label)


def _as_scalar(value: Any, hint: Any, label: str) -> Any:
    if hint is Any:
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{label}={value!r}: expected a finite number")
        return value if isinstance(value, float) else float(value)
    if hint is Path and isinstance(value, str):
        return Path(value)
    if isinstance(hint, type) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    name = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{label}={value!r}: expected {_NAMES.get(name, name)}")


_NAMES = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


def _as_tuple(value: list | tuple, args: tuple[Any, ...], label: str) -> tuple:
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_as_type(v, args[0], label) for v in value)
    if len(value) != len(args):
        raise ConfigError(f"{label}={list(value)!r}: expected a list of {len(args)}")
    return tuple(_as_type(v, a, label) for v, a in zip(value, args, strict=True))


# --- the run: what every node of one dataflow must agree on ------------------------------------------

DEFAULT_FPS = 10  # frames per second of sim, recording, scoring and evaluation: the one default
RUN_CONFIG_ENV = "RECORD_CONFIG"  # the dataflow's run file (also the recorder's config)
DEFAULT_RUN_CONFIG = "configs/record.json"
DEFAULT_SIM_ENV = "gym_hil/PandaPickCubeBase-v0"  # sim.env.PICK_CUBE (this module imports no sim code)
DEFAULT_STALL_S = 30.0
"""Silence between sim and recorder that ends the run (sim.watchdog). On one machine a frozen recorder
loses nothing for ~100 s (its input queue holds 1000 frames, backpressure), and a 12 s freeze must pass
(tests/recorder/test_recorder_stall.py); across machines dora drops a daemon silent for 20 s, after which it
receives nothing more: 30 s ends that run."""


@dataclass(frozen=True)
class RunConfig(Config):
    """The run-level settings every node reads the same way: the top-level keys of the RECORD_CONFIG
    file (default configs/record.json), then env. The frame rate and the sim env live here and nowhere
    else."""

    repo_id: str = setting("local/sim_teleop_pick", env="RECORD_REPO_ID")
    # empty: outputs/record/<name part of repo_id>; relative: from the repository root
    root: Path = setting(default_factory=Path, env="RECORD_ROOT")
    task: str = setting("Pick up the cube.", env="RECORD_TASK")
    num_episodes: int = setting(10, env="RECORD_NUM_EPISODES", min=1)  # the dataset's target
    fps: int = setting(DEFAULT_FPS, env="SIM_FPS", min=1)
    resume: bool = setting(False, env="RESUME_RECORDING")  # append: the sim's placements continue too
    # the gym-hil env the sim runs; the recorder stores it per episode, so resume can refuse another one
    sim_env: str = setting(DEFAULT_SIM_ENV, env="SIM_ENV")
    # sim and recorder each end the run when the other has been silent this long (sim.watchdog); 0 = never
    stall_s: float = setting(DEFAULT_STALL_S, env="SIM_STALL_S", min=0.0)
    # wall-clock tick period in ms; unset (or 0): the frame period. Faster ticks record faster than real
    # time, each step still 1/fps of sim time. The dataflows set TICK_MS from AUTOPILOT_TICK_MS/EVAL_TICK_MS.
    tick_ms: float | None = setting(None, env="TICK_MS", min=1.0, zero_is_none=True)

    @property
    def frame_period_s(self) -> float:
        return 1.0 / self.fps

    @property
    def tick_period_s(self) -> float:
        """Seconds between the sim's ticks: the one period clock, sim and controllers count against."""
        return self.tick_ms / 1000.0 if self.tick_ms is not None else self.frame_period_s

    def validate(self) -> None:
        parts = self.repo_id.split("/")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"repo_id {self.repo_id!r}: expected '<user>/<name>'")
        root = self.root if self.root != Path() else Path("outputs") / "record" / parts[1]
        object.__setattr__(self, "root", root if root.is_absolute() else REPO_ROOT / root)

    @classmethod
    def load(cls, path: str | Path | None = None, default: str = DEFAULT_RUN_CONFIG) -> Self:
        """The run file `path`, else the one named by RECORD_CONFIG, else `default`. A RunConfig skips
        the keys that are the recorder's own."""
        return cls.from_file(path or env_str(RUN_CONFIG_ENV, default), partial=cls is RunConfig)
