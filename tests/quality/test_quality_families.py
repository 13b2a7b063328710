"""The metric-family registry: each family is declared once, in its own module, and that one declaration
is what the scores, the reports, the config, the layout check and the docs are built from."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import sim_teleop.quality
from sim_teleop.quality import EpisodeScorer, QualityConfig, SignalLayout
from sim_teleop.quality.families import FAMILIES
from sim_teleop.quality.family import Family, FamilyRegistry, Kind, Source
from sim_teleop.quality.layout import missing_metrics
from sim_teleop.quality.metrics import REPORT_ORDER, EpisodeAccumulator
from sim_teleop.quality.scorer import INTEGRITY, MOTION, SOURCES, VISUAL

QUALITY = Path(sim_teleop.quality.__file__).parent
SCORING_MD = QUALITY.parents[2] / "docs" / "SCORING.md"
OWN_KEYS = {"num_frames", "duration_s", "images"}
"""Raw metrics of the accumulator itself (frames, duration) and of every camera (images scored)."""


def _episode(acc: EpisodeAccumulator, n: int = 60) -> None:
    """A pick with every signal: TCP, command, gripper, contact force, cube pose, two cameras."""
    rng = np.random.default_rng(0)
    for i in range(n):
        state = np.zeros(18)
        state[15:18] = np.array([0.4 + 0.003 * i, 0.0, 0.3 - 0.004 * i]) + rng.normal(0, 0.002, 3)
        state[14] = 1.0 if 20 <= i < 50 else 0.0
        action = np.concatenate([state[15:18] - [0.4, 0.0, 0.0], [state[14]]])
        images = {cam: rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for cam in ("front", "wrist")}
        cube = np.array([0.5, 0.0, 0.02 + (0.1 if 30 <= i < 45 else 0.0)])
        acc.add_frame(state, action, i == n - 1, float(i), cube, images, i)


def _raw_keys() -> set[str]:
    """Every raw key (camera keys without their camera) of a full episode and of a joint-space one."""
    full = EpisodeAccumulator(QualityConfig())
    _episode(full)
    joints = EpisodeAccumulator(QualityConfig(layout=SignalLayout(tcp=None, joint_ranges=True)))
    joints.measure_joints(np.ones(18), np.ones(4))
    _episode(joints)
    keys = set(full.raw_metrics()) | set(joints.raw_metrics())
    return {k.rsplit(".", 1)[-1] for k in keys}


def test_every_declared_raw_key_is_reported_and_every_reported_key_is_declared() -> None:
    declared = {k for f in FAMILIES for k in f.raw_keys}
    assert _raw_keys() == declared | OWN_KEYS


def test_family_names_sources_and_meters_are_unique() -> None:
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names)) == len(FAMILIES)
    sources = [s.key for f in FAMILIES for s in f.sources]
    assert len(sources) == len(set(sources))
    assert len(FAMILIES.meters) == len(set(FAMILIES.meters))
    orders = [m.ORDER for m in FAMILIES.meters]
    assert orders == sorted(set(orders))  # one place each in the order meters see a frame


def test_a_family_cannot_be_declared_twice() -> None:
    registry = FamilyRegistry()
    family = Family("x", Kind.MOTION, (Source("x", 1.0),), 1.0, ("x",))
    registry.declare(family)
    with pytest.raises(ValueError, match="declared twice"):
        registry.declare(family)
    with pytest.raises(ValueError, match="declared twice"):
        FAMILIES.declare(FAMILIES["detour"])


def test_the_scorer_config_and_layout_check_come_from_the_declarations() -> None:
    cfg = QualityConfig()
    assert (*MOTION, *VISUAL, *INTEGRITY) == FAMILIES.names()
    assert set(SOURCES) == set(MOTION) | set(INTEGRITY)
    for f in FAMILIES:
        assert cfg.weights[f.name] == f.weight
        for source in f.sources:
            assert cfg.half[source.name] == source.half
        for key, value in f.thresholds.items():
            assert cfg.thresholds[key] == value
    bare = SignalLayout(tcp=None, action_xyz=None, state_gripper=None, action_gripper=None)
    assert list(missing_metrics(bare)) == [f.name for f in FAMILIES if f.needs(bare) is not None]
    assert missing_metrics(SignalLayout()) == {}


def test_every_family_scores_in_a_report() -> None:
    scorer = EpisodeScorer(QualityConfig())
    acc = scorer.new_episode()
    _episode(acc)
    report = scorer.report(0, acc)
    scored = {k.rsplit(".", 1)[-1] for k in report.subscores}
    assert scored == set(FAMILIES.names())
    assert list(report.metrics)[: len(REPORT_ORDER)] == list(REPORT_ORDER)


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_each_family_is_declared_in_its_own_module_only() -> None:
    """A family's name is spelled where it is declared; elsewhere in `quality` only as a raw metric of the
    report's historical order (`REPORT_ORDER`)."""
    modules = {p: _string_constants(p) for p in QUALITY.rglob("*.py")}
    for f in FAMILIES:
        spelled = {p.relative_to(QUALITY).as_posix() for p, names in modules.items() if f.name in names}
        home = {p for p in spelled if p.startswith("families/")}
        assert len(home) == 1, (f.name, spelled)
        others = spelled - home
        assert others <= ({"metrics.py"} if f.name in REPORT_ORDER else set()), (f.name, others)


def test_the_scoring_doc_lists_every_family() -> None:
    rows = [line for line in SCORING_MD.read_text().splitlines() if line.startswith("| `")]
    listed = [row.split("`")[1] for row in rows]
    assert listed == list(FAMILIES.names())
