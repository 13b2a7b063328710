"""Out-of-range actions: clamped as before, but said once per kind and counted, never silently.

A finite [1e30, -1e30, 1e30, 1e30] passes decode_action (it refuses only NaN/inf) and used to be
clamped to the workspace corner without a word: the arm jumped ~30 cm.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from conftest import load_node
from dora.testing import MockNode
from recorder_fakes import FakeEnv

from sim_teleop.messages import decode_frame, encode_action, encode_control
from sim_teleop.nodes.serve import OnceLogger
from sim_teleop.sim.env import ACTION_SLACK, TARGET_LIMIT, action_problem
from sim_teleop.sim.runner import SimConfig, SimRunner

HUGE = [1e30, -1e30, 1e30, 1e30]


def _runner(logged: list[str]) -> tuple[SimRunner, OnceLogger]:
    problems = OnceLogger(logged.append)
    runner = SimRunner(FakeEnv(), SimConfig(time_limit_s=100), clock=lambda: 0.0, problem=problems)  # type: ignore[arg-type]
    return runner, problems


def test_a_huge_action_is_clamped_logged_once_and_counted() -> None:
    logged: list[str] = []
    runner, problems = _runner(logged)
    for _ in range(3):
        runner.set_action(np.array(HUGE, np.float32))
    np.testing.assert_allclose(runner.action, [TARGET_LIMIT, -TARGET_LIMIT, TARGET_LIMIT, 1.0])
    assert len(logged) == 1, logged
    assert "outside the +-0.35 m workspace" in logged[0] and "clamped to [0.35, -0.35, 0.35, 1]" in logged[0]
    assert problems.summary() == "out_of_workspace: 3"


def test_each_kind_is_logged_once() -> None:
    logged: list[str] = []
    runner, problems = _runner(logged)
    runner.set_action(np.array([0.1, 0.0, 0.0, 0.5], np.float32))
    for _ in range(2):
        runner.set_action(np.array([0.0, 0.0, 0.0, 7.0], np.float32))  # gripper only
        runner.set_action(np.array([0.0, 0.9, 0.0, 0.0], np.float32))
        runner.set_action(np.array([np.nan, 0.0, 0.0, 0.0], np.float32))  # in-process callers: not held
    np.testing.assert_allclose(runner.action, [0.0, TARGET_LIMIT, 0.0, 0.0])  # the last finite one, clamped
    assert len(logged) == 3, logged
    assert problems.summary() == "gripper_out_of_range: 2, non_finite: 2, out_of_workspace: 2"
    assert any("keeping the last action" in line for line in logged)


def test_a_small_overshoot_is_clamped_quietly() -> None:
    """A policy's 1.003 gripper or a target a millimetre past the limit is noise, not a bug."""
    logged: list[str] = []
    runner, problems = _runner(logged)
    slight = TARGET_LIMIT + ACTION_SLACK / 2
    runner.set_action(np.array([slight, -slight, 0.0, 1.0 + ACTION_SLACK / 2], np.float32))
    np.testing.assert_allclose(runner.action, [TARGET_LIMIT, -TARGET_LIMIT, 0.0, 1.0])
    assert logged == [] and not problems.counts
    assert action_problem(np.array([0.2, -0.2, 0.1, 0.5])) is None


def test_the_sim_node_says_so_once_and_counts_at_the_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIM_VIEWER", "0")
    tick = ("tick", pa.array([0]))
    events = [tick] + [("action", encode_action(HUGE)), tick] * 3 + [("control", encode_control("stop"))]
    node = MockNode(events)
    load_node("sim").main(node)
    frames = [decode_frame(v) for v in node.outputs["frame"]]
    np.testing.assert_allclose(frames[-1].action, [TARGET_LIMIT, -TARGET_LIMIT, TARGET_LIMIT, 1.0])
    err = capsys.readouterr().err
    assert err.count("outside the +-0.35 m workspace") == 1, err
    assert "out-of-range actions (clamped; non-finite ones not held): out_of_workspace: 3" in err
