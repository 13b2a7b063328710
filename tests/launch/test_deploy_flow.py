"""deploy_flow.py carries every `--set` into the generated dataflow, `${VAR}` values of the YAML included."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _deploy_module():
    spec = importlib.util.spec_from_file_location("deploy_flow", REPO / "scripts" / "deploy_flow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_set_fills_the_yamls_own_variables_so_every_node_agrees_on_the_tick() -> None:
    deploy_flow = _deploy_module()
    flow = yaml.safe_load((REPO / "dataflow-autopilot.yaml").read_text())
    out = deploy_flow.deploy(flow, REPO, "A", {}, {"AUTOPILOT_TICK_MS": "60"})
    nodes = {n["id"]: n for n in out["nodes"]}
    assert nodes["clock"]["env"]["TICK_MS"] == "60"  # was "${AUTOPILOT_TICK_MS:-}": 100 ms at dora start
    assert nodes["sim"]["env"]["TICK_MS"] == "60"
    assert nodes["expert"]["env"]["TICK_MS"] == "60"
    # A variable not set stays for dora to expand; every node gets the --set value itself too.
    assert nodes["sim"]["env"]["SIM_VIEWER"] == "${SIM_VIEWER:-0}"
    assert all(n["env"]["AUTOPILOT_TICK_MS"] == "60" for n in out["nodes"])


def test_fill_vars_forms() -> None:
    fill = _deploy_module().fill_vars
    env = {"A": "1"}
    assert fill("${A}", env) == "1" and fill("${A:-9}", env) == "1" and fill("$A/x", env) == "1/x"
    assert fill("${B:-9}", env) == "${B:-9}" and fill(7, env) == 7


def test_every_node_runs_in_the_dataflows_directory_on_its_machine() -> None:
    deploy_flow = _deploy_module()
    flow = yaml.safe_load((REPO / "dataflow-autopilot.yaml").read_text())
    out = deploy_flow.deploy(flow, REPO, "A", {"recorder": "B"}, {})
    deploys = {n["id"]: n["deploy"] for n in out["nodes"]}
    assert deploys["recorder"] == {"machine": "B", "working_dir": str(REPO)}
    assert all(d["working_dir"] == str(REPO) for d in deploys.values())
    assert {d["machine"] for i, d in deploys.items() if i != "recorder"} == {"A"}
