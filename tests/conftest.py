"""Shared fixtures: a virtual X display, an environment for `dora run`, and a frame probe node."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sim_teleop.launch.dora import dora_environment
from sim_teleop.sim.env import ensure_offscreen_gl
from sim_teleop_bench import frame_probe
from sim_teleop_bench.xvfb import start_xvfb

ensure_offscreen_gl()  # before anything imports mujoco: osmesa when there is no display

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
PROBE_NODE = Path(frame_probe.__file__)


TIERED_MARKS = ("dataflow", "slow")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most dataflow or slow tests run first, each file whole and in its own order: with
    `pytest -n 2 --dist loadfile` (`./run tests`) the longest files start at once and the quick unit
    files fill the workers' tails, instead of a long dataflow file starting last."""
    heavy: dict[Path, int] = {}  # file -> its dataflow/slow tests, a proxy for how long it runs
    for item in items:
        if any(item.get_closest_marker(m) for m in TIERED_MARKS):
            heavy[item.path] = heavy.get(item.path, 0) + 1
    order = {path: i for i, path in enumerate(dict.fromkeys(item.path for item in items))}
    items.sort(key=lambda item: (-heavy.get(item.path, 0), order[item.path]))


HEAVY_COMMANDS = ("dora", "strace", "sim-teleop", "lerobot-train", "python", "python3")


def heavy_command(args: Any) -> str | None:
    """The program a subprocess would run when it belongs to the dataflow tier (dora, a Python script or
    module, strace, a training run), else None."""
    argv = [args] if isinstance(args, str | os.PathLike) else list(args)
    if not argv:
        return None
    program = Path(str(argv[0])).name
    if str(argv[0]) == sys.executable or program.startswith(("python", "python3")):
        # `python -c CODE` is a library probing its environment (glfw asks for its C library's version
        # at import), not a dataflow; a script or `-m module` is
        return None if len(argv) > 1 and argv[1] == "-c" else program
    return program if program.startswith(HEAVY_COMMANDS) else None


@pytest.fixture(autouse=True)
def normal_scheduling() -> Iterator[None]:
    """Each test starts in, and leaves, the normal scheduling class.

    Encoding video in-process (LeRobot's writer through PyAV's SVT-AV1) switches the calling thread to
    SCHED_FIFO priority 99 when run as root (measured: `os.sched_getscheduler(0)` 0 -> 1 after one
    `save_episode`). An xdist worker that did so spawned every later dora flow at FIFO 99, and two
    spinning real-time nodes starved the 2-core machine until the suite hung.
    """
    _reset_scheduling()
    yield
    _reset_scheduling()


def _reset_scheduling() -> None:
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


@pytest.fixture(autouse=True)
def fast_tier_starts_no_dataflow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast tier (`./run tests fast`: not dataflow, not slow) stays fast: a test that starts dora, a
    script or another Python process must carry the `dataflow` (or `slow`) mark, or it fails here."""
    if any(request.node.get_closest_marker(m) for m in TIERED_MARKS):
        return
    real_init = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen, args: Any, *a: Any, **kw: Any) -> None:
        program = heavy_command(args)
        if program is not None:
            pytest.fail(f"{request.node.nodeid} starts {program}: mark it pytest.mark.dataflow")
        real_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)


@pytest.fixture
def dora_env() -> dict[str, str]:
    return dora_environment()


@pytest.fixture
def xvfb() -> Iterator[str]:
    """Start Xvfb on a free display number; yields the DISPLAY value."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (apt-get install xvfb xdotool); .ci/run installs it")
    try:
        proc, display = start_xvfb()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def dora_running(flow: Path, env: dict[str, str], log: Path, cwd: Path) -> Iterator[subprocess.Popen]:
    """`dora run FLOW` in the background, output to `log`; killed on the way out if still running."""
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["dora", "run", str(flow)], cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def free_port() -> int:
    """A TCP port nobody listens on now (e.g. for a rerun viewer that must not meet a user's own)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def every_frame(source: str = "sim/frame") -> dict[str, object]:
    """An input that gets every frame: dora 1.1's zero-copy path drops frames silently for a consumer
    without backpressure that stalls (a probe or recorder on a loaded machine lost one, failing CI)."""
    return {"source": source, "queue_size": 1000, "queue_policy": "backpressure"}


def with_probe(dataflow: Path, out_dir: Path, probe_jsonl: Path, source: str = "sim/frame") -> Path:
    """Copy a dataflow YAML into `out_dir` plus a probe node logging frames (nodes are commands)."""
    import yaml

    spec = yaml.safe_load(dataflow.read_text())
    spec["nodes"].append(
        {
            "id": "probe",
            "path": str(PROBE_NODE),
            "inputs": {"frame": every_frame(source)},
            "env": {"PROBE_OUT": str(probe_jsonl)},
        }
    )
    out = out_dir / dataflow.name
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def read_probe(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_dataflow(
    flow: Path, env: dict[str, str], log_path: Path, timeout: float, cwd: Path = REPO, console: bool = False
) -> str:
    """`dora run FLOW` until it ends by itself; fails the test, with the log's tail, otherwise.
    `console`: through the `sim-teleop` console wrapper, as `./run autopilot` and the mise tasks do."""
    command = [sys.executable, "-m", "sim_teleop.launch.console"] if console else ["dora", "run"]
    with log_path.open("w") as log:
        try:
            proc = subprocess.run(
                [*command, str(flow)],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("dora run did not end by itself:\n" + log_path.read_text()[-3000:])
    text = log_path.read_text()
    assert proc.returncode == 0, text[-4000:]
    return text


def load_node(name: str) -> ModuleType:
    """The node module `sim_teleop.nodes.<name>`, so a test can call its `main(node=MockNode(...))`."""
    return importlib.import_module(f"sim_teleop.nodes.{name}")


@dataclass
class Cluster:
    port: int  # the coordinator's
    daemons: dict[str, subprocess.Popen]  # machine id -> its daemon process


@pytest.fixture
def cluster(tmp_path: Path, dora_env: dict[str, str]) -> Iterator[Cluster]:
    """Coordinator + daemons A and B on free loopback ports. Every process it started is stopped by
    its process group at the end, even on failure."""
    port, zenoh = free_port(), free_port()

    def daemon(machine: str, *zenoh_args: str) -> list[str]:
        where = ("--coordinator-port", str(port), "--local-listen-port", str(free_port()))
        return ["dora", "daemon", "--machine-id", machine, *where, "--zenoh-no-multicast", *zenoh_args]

    commands = [
        ["dora", "coordinator", "--port", str(port), "--store", "memory"],
        daemon("A", "--zenoh-listen", f"127.0.0.1:{zenoh}"),
        daemon("B", "--zenoh-connect", f"tcp/127.0.0.1:{zenoh}"),
    ]
    procs: list[subprocess.Popen] = []
    try:
        for i, command in enumerate(commands):
            log = (tmp_path / f"cluster{i}.log").open("w")
            procs.append(
                subprocess.Popen(
                    command,
                    cwd=tmp_path,
                    env=dora_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            time.sleep(1.0 if i == 0 else 0.5)  # the coordinator listens before daemons register
        yield Cluster(port, {"A": procs[1], "B": procs[2]})
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def node_pids(root: Path, node: str = "") -> list[int]:
    """Processes of `sim-teleop-<node>` (every node when empty) of the dataflow whose environment names
    `root` (its RECORD_ROOT): several dataflows may run at once."""
    found = []
    for pid in subprocess.run(
        ["pgrep", "-f", f"sim-teleop-{node}"], capture_output=True, text=True
    ).stdout.split():
        try:
            if str(root).encode() in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found
