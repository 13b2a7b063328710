"""Every raw metric of a few seeded synthetic episodes, pinned to a relative 1e-5.

The episodes exercise every branch of `EpisodeAccumulator` (noise, a spike, pauses, gripper chatter, a
release mid-air, a falling cube, saturation, missing/NaN signals, image subsets with gaps, other layouts),
so a restructuring of the meters that changes any value fails here. Not bit for bit: float32 sums differ
in their last digits from one CPU (SIMD kernel) to another: on the 2-core machine of 2026-12-06, 12 of
the 181 values differ from the golden ones bitwise, worst 2.0e-7 relative (the same with numpy's SIMD
kernels switched off by NPY_DISABLE_CPU_FEATURES). A relative 1e-5 is 50x that noise and far below
any real formula change: the smallest one seen (a threshold moved by 1 %, a window by one frame) moves
a value by > 1e-3. The golden
values were written by the accumulator before it was split into meters; regenerate them with
`python tests/quality/test_quality_raw_golden.py --write` only when a metric is meant to change.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from synthetic_images import box_blur

from sim_teleop.quality import QualityConfig, SignalLayout
from sim_teleop.quality.metrics import EpisodeAccumulator

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "quality_raw_golden.json"


@dataclass
class _Frame:
    state: np.ndarray
    action: np.ndarray
    success: bool = False
    contact_force: float | None = None
    cube_pose: np.ndarray | None = None
    images: dict[str, np.ndarray] | None = None
    frame: int | None = None


@dataclass
class _Episode:
    config: QualityConfig
    frames: list[_Frame] = field(default_factory=list)


def _pick_path(rng: np.random.Generator, n: int) -> np.ndarray:
    """A noisy start -> above -> grasp -> lift path with a pause, a spike and a stretch at the top bound."""
    keys = np.array([[0.40, 0.00, 0.30], [0.48, 0.08, 0.15], [0.48, 0.08, 0.03], [0.48, 0.08, 0.03]])
    keys = np.vstack([keys, [0.50, 0.10, 0.49], [0.59, 0.25, 0.20]])
    t = np.linspace(0, len(keys) - 1, n)
    path = np.stack([np.interp(t, np.arange(len(keys)), keys[:, k]) for k in range(3)], axis=1)
    path += rng.normal(0.0, 0.002, path.shape)
    path[n // 3 : n // 3 + 6] = path[n // 3]  # a pause
    path[n // 2] += [0.05, -0.03, 0.02]  # a spike
    return path


def _image(rng: np.random.Generator, i: int, shade: float) -> np.ndarray:
    img = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    if i % 7 == 3:
        img = box_blur(img, 4)
    return np.clip(img.astype(np.float64) * shade, 0, 255).astype(np.uint8)


def _full_episode(seed: int) -> _Episode:
    """Our layout (18-D state, 4-D action) with every signal, two cameras, the wrist one on a subset."""
    rng = np.random.default_rng(seed)
    n = 70
    tcp = _pick_path(rng, n)
    cmd = tcp + rng.normal(0.0, 0.003, tcp.shape)
    cmd[5:12, 1] = tcp[0, 1] + 0.35  # commanding the limit
    grip = np.zeros(n)
    grip[25:] = 1.0
    grip[30:32] = 0.0  # chatter
    grip[55:] = 0.0  # released mid-air
    frozen = _image(rng, 0, 1.0)
    ep = _Episode(QualityConfig())
    for i in range(n):
        state = np.zeros(18, np.float32)
        state[15:18] = tcp[i]
        state[14] = grip[i]
        action = np.zeros(4, np.float32)
        action[:3] = cmd[i] - tcp[0]
        action[3] = grip[i]
        cube_z = 0.02 if i < 34 else (tcp[i, 2] - 0.01 if i < 55 else max(0.02, 0.2 - 0.02 * (i - 55)))
        cube = np.array([0.48, 0.08, np.nan if i == 40 else cube_z, 1, 0, 0, 0])
        force = float(np.nan) if i == 10 else float(rng.uniform(0, 30))
        images: dict[str, np.ndarray] = {}
        shade = 0.15 if 45 <= i < 50 else (3.0 if 50 <= i < 53 else 1.0)
        images["front"] = frozen if 15 <= i < 24 else _image(rng, i, shade)
        if i % 3 != 1:
            images["wrist"] = frozen if 15 <= i < 24 else _image(rng, i, 0.7)
        ep.frames.append(_Frame(state, action, i == n - 1, force, cube, images, i))
    return ep


def _tcp_only_episode(seed: int) -> _Episode:
    """Another dataset: xyz + gripper 0..100 in the state, no commanded target (crawl from the TCP)."""
    rng = np.random.default_rng(seed)
    layout = SignalLayout(
        tcp=(0, 1, 2),
        state_gripper=3,
        state_gripper_max=100.0,
        action_xyz=None,
        action_gripper=None,
        action_xyz_limit=None,
    )
    ep = _Episode(QualityConfig(layout=layout, cameras=()))
    n = 50
    tcp = _pick_path(rng, n)
    tcp[10:30] = tcp[10] + np.linspace(0, 0.08, 20)[:, None] * [1, 0, 0]  # a steady crawl
    for i in range(n):
        g = 100.0 if 20 <= i < 40 else 0.0
        state = np.concatenate([tcp[i], [g, 0, 0]])
        ep.frames.append(_Frame(state, np.zeros(7), i == n - 1))
    return ep


def _command_only_episode(seed: int) -> _Episode:
    """No TCP and no gripper: only the commanded target (turning, detour, crawl, saturation)."""
    rng = np.random.default_rng(seed)
    layout = SignalLayout(tcp=None, state_gripper=None, action_gripper=None, action_xyz_limit=0.1)
    ep = _Episode(QualityConfig(layout=layout, cameras=()))
    cmd = np.cumsum(rng.normal(0.0, 0.01, (40, 3)), axis=0)
    # a straight move from frame 12 with a standstill that interrupts it: it goes on the same way after
    step = np.array([0.01, 0.004, 0.0])
    cmd[12:] = cmd[11] + np.outer(np.arange(1, len(cmd) - 11), step)
    cmd[20:38] = cmd[20]
    cmd[38:] = cmd[20] + np.outer(np.arange(1, len(cmd) - 37), step)
    for i in range(len(cmd)):
        ep.frames.append(_Frame(np.zeros(18), np.concatenate([cmd[i], [0.0]]), contact_force=float(i)))
    return ep


def episodes() -> Iterator[tuple[str, _Episode]]:
    yield "full_3", _full_episode(3)
    yield "full_11", _full_episode(11)
    yield "tcp_only", _tcp_only_episode(5)
    yield "command_only", _command_only_episode(7)
    single = _full_episode(2)
    single.frames = single.frames[:1]
    yield "single_frame", single
    yield "empty", _Episode(QualityConfig())


def raw_metrics(ep: _Episode) -> dict[str, float]:
    acc = EpisodeAccumulator(ep.config)
    for f in ep.frames:
        acc.add_frame(f.state, f.action, f.success, f.contact_force, f.cube_pose, f.images, f.frame)
    return acc.raw_metrics()


def _all() -> dict[str, dict[str, float]]:
    return {name: raw_metrics(ep) for name, ep in episodes()}


@pytest.mark.parametrize("name", [name for name, _ in episodes()])
def test_raw_metrics_match_the_golden_values(name: str) -> None:
    golden = json.loads(GOLDEN.read_text())[name]
    got = raw_metrics(dict(episodes())[name])
    assert list(got) == list(golden)  # same keys in the same order (reports list them in this order)
    for key, value in golden.items():
        assert same_value(got[key], value), (key, got[key], value)


RTOL = 1e-5
"""Relative tolerance of a golden value (see the module docstring); 1e-12 absolute for values near 0."""


def same_value(got: float, want: float) -> bool:
    return bool(np.isclose(got, want, rtol=RTOL, atol=1e-12, equal_nan=True))


def test_the_tolerance_still_catches_a_small_formula_change() -> None:
    """A value moved by 1e-4 relative (far less than any formula change) fails; CPU noise passes."""
    assert same_value(0.21865935698009675, 0.2186593627929688)
    assert same_value(0.2186593627929688 * (1 + 2e-7), 0.2186593627929688)
    assert not same_value(0.2186593627929688 * (1 + 1e-4), 0.2186593627929688)
    assert not same_value(float("nan"), 0.0) and same_value(float("nan"), float("nan"))


def test_episodes_reach_every_metric_family() -> None:
    """The pinned episodes are not trivial: each family takes a non-zero value somewhere."""
    values = _all()
    for key in (
        "jitter_tcp",
        "jitter_cmd",
        "idle_fraction",
        "idle_pause_s",
        "look_s",
        "crawl_fraction",
        "spike_accel",
        "spike_force",
        "saturation",
        "gripper_chatter",
        "drop_release_lift",
        "drop_cube_fall",
        "detour",
        "path_h_excess",
        "path_v_excess",
        "front.dark",
        "front.overexposed",
        "front.blur",
        "front.frozen",
        "wrist.frozen",
        "front.partial_view",
    ):
        assert any(v.get(key, 0.0) > 0.0 for v in values.values()), key


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(_all(), indent=1) + "\n")
