"""The one config mechanism: defaults -> JSON file -> env overrides -> checks, and the run config."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sim_teleop.config import DEFAULT_FPS, REPO_ROOT, Config, ConfigError, RunConfig, setting


@dataclass(frozen=True)
class Inner(Config):
    size: tuple[int, int] = (1, 2)
    name: str | None = None


@dataclass(frozen=True)
class Demo(Config):
    count: int = setting(3, env="DEMO_COUNT", min=1)
    rate: float = setting(0.5, env="DEMO_RATE", min=0.0, max=1.0)
    mode: str = setting("fast", env="DEMO_MODE", choices=("fast", "slow"))
    on: bool = setting(False, env="DEMO_ON")
    path: Path = setting(Path("a"), env="DEMO_PATH")
    tick: float | None = setting(None, env="DEMO_TICK", zero_is_none=True)
    gop: int = setting(2, key="video.gop")
    inner: Inner = field(default_factory=Inner)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DEMO_COUNT", "DEMO_RATE", "DEMO_MODE", "DEMO_ON", "DEMO_PATH", "DEMO_TICK"):
        monkeypatch.delenv(var, raising=False)


def test_defaults() -> None:
    assert Demo.from_dict({}) == Demo() == Demo(count=3, rate=0.5, inner=Inner((1, 2)))


def test_file_values_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "demo.json"
    data = {"count": 5, "rate": 1, "path": "b/c", "video": {"gop": 4}, "inner": {"size": [7, 8]}, "_note": ""}
    path.write_text(json.dumps(data))
    cfg = Demo.from_file(path)
    assert (cfg.count, cfg.rate, cfg.path, cfg.gop, cfg.inner.size) == (5, 1.0, Path("b/c"), 4, (7, 8))
    assert isinstance(cfg.rate, float)


def test_env_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_COUNT", "9")
    monkeypatch.setenv("DEMO_ON", "yes")
    monkeypatch.setenv("DEMO_MODE", "SLOW")
    monkeypatch.setenv("DEMO_TICK", "0")
    monkeypatch.setenv("DEMO_RATE", "")  # empty: unset
    cfg = Demo.from_dict({"count": 5, "rate": 0.25, "tick": 30})
    assert (cfg.count, cfg.on, cfg.mode, cfg.tick, cfg.rate) == (9, True, "slow", None, 0.25)


@pytest.mark.parametrize(
    "data, env, message",
    [
        ({"count": "3"}, {}, r"demo.json: count='3': expected an integer"),
        ({"on": 1}, {}, r"on=1: expected true or false"),
        ({}, {"DEMO_COUNT": "zero"}, r"DEMO_COUNT='zero': expected an integer"),
        ({}, {"DEMO_ON": "maybe"}, r"DEMO_ON='maybe'"),
        ({"count": 0}, {}, r"demo.json: count=0: must be >= 1"),
        ({}, {"DEMO_RATE": "1.5"}, r"DEMO_RATE=1.5: must be <= 1.0"),
        ({"mode": "medium"}, {}, r"mode='medium': expected one of fast, slow"),
        ({"cuont": 3}, {}, r"demo.json: unknown keys \['cuont'\]"),
        ({"video": {"gopp": 3}}, {}, r"unknown keys \['gopp'\] in 'video'"),
        ({"inner": {"size": [1]}}, {}, r"inner: size=\[1\]: expected a list of 2"),
        ({"inner": {"colour": 1}}, {}, r"demo.json: inner: unknown keys"),
        ({"rate": float("nan")}, {}, r"expected a finite number"),
    ],
)
def test_bad_values_name_the_source(
    data: dict, env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        Demo.from_dict(data, where="demo.json")


def test_values_set_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"Demo\.count=0: must be >= 1"):
        Demo(count=0)
    assert Demo(path="x").path == Path("x")  # type: ignore[arg-type]


def test_run_config_reads_the_run_file_and_its_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("RECORD_REPO_ID", "RECORD_ROOT", "RECORD_NUM_EPISODES", "SIM_FPS", "RECORD_TASK"):
        monkeypatch.delenv(var, raising=False)
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"repo_id": "me/cubes", "num_episodes": 4, "fps": 15, "writer": "inline"}))
    monkeypatch.setenv("RECORD_CONFIG", str(run))
    cfg = RunConfig.load()  # the recorder's own keys (writer) are not the run's business
    assert (cfg.num_episodes, cfg.fps, cfg.root) == (4, 15, REPO_ROOT / "outputs" / "record" / "cubes")
    monkeypatch.setenv("SIM_FPS", "20")
    monkeypatch.setenv("RECORD_ROOT", str(tmp_path / "ds"))
    cfg = RunConfig.load()
    assert (cfg.fps, cfg.root) == (20, tmp_path / "ds")
    monkeypatch.delenv("RECORD_CONFIG")
    monkeypatch.delenv("SIM_FPS")
    assert RunConfig.load().fps == DEFAULT_FPS  # configs/record.json
    with pytest.raises(ConfigError, match="repo_id 'nouser'"):
        RunConfig(repo_id="nouser")


def test_an_explicit_run_file_wins_over_record_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECORD_NUM_EPISODES", raising=False)
    monkeypatch.setenv("RECORD_CONFIG", str(REPO_ROOT / "configs" / "eval.json"))
    assert RunConfig.load(REPO_ROOT / "configs" / "autopilot.json").repo_id == "local/autopilot_pick_cube"
    assert RunConfig.load().repo_id == "local/eval_act_cpu"
    monkeypatch.delenv("RECORD_CONFIG")
    assert RunConfig.load(default="configs/eval.json").num_episodes == 1000


def _run_file(tmp_path: Path, **values: object) -> Path:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"repo_id": "local/x", **values}))
    return path


def test_node_settings_follow_the_run_then_their_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sim_teleop.autopilot.session import AutopilotConfig
    from sim_teleop.eval.settings import EvalSettings
    from sim_teleop.sim.runner import SimConfig

    for var in ("AUTOPILOT_EPISODES", "TICK_MS", "SIM_FPS", "RECORD_NUM_EPISODES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RECORD_CONFIG", str(_run_file(tmp_path, num_episodes=7, fps=20)))
    auto = AutopilotConfig.load()
    assert (auto.episodes, auto.tick_s) == (7, 0.05)  # the recorder's count, the run's frame period
    assert RunConfig.load().tick_period_s == 0.05
    monkeypatch.setenv("AUTOPILOT_EPISODES", "3")
    monkeypatch.setenv("TICK_MS", "70")  # one period for every node of the run
    assert AutopilotConfig.load().episodes == 3
    periods = {
        AutopilotConfig.load().tick_s,
        SimConfig.from_env().tick_period_s,
        EvalSettings.from_env().tick_period_s,
    }
    assert periods == {RunConfig.load().tick_period_s} == {0.07}
    monkeypatch.setenv("TICK_MS", "0")  # unset: the frame period
    assert RunConfig.load().tick_period_s == 0.05
    monkeypatch.setenv("TICK_MS", "0.5")
    with pytest.raises(ConfigError, match="TICK_MS"):
        RunConfig.load()


def test_resume_is_run_level(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sim_teleop.recorder.config import RecordConfig

    monkeypatch.delenv("RESUME_RECORDING", raising=False)
    path = _run_file(tmp_path, resume=True)
    assert RunConfig.load(path).resume and RecordConfig.load(path).resume  # sim and recorder agree
    monkeypatch.setenv("RESUME_RECORDING", "0")
    assert not RunConfig.load(path).resume
    monkeypatch.setenv("RESUME_RECORDING", "maybe")
    with pytest.raises(ConfigError, match="RESUME_RECORDING"):
        RunConfig.load(path)


def test_keyboard_setting_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from sim_teleop.control.teleop import KeyboardConfig

    monkeypatch.setenv("KEYBOARD_OPTIONAL", "1")
    assert KeyboardConfig.from_env().optional
    monkeypatch.setenv("KEYBOARD_OPTIONAL", "sometimes")
    with pytest.raises(ConfigError, match="KEYBOARD_OPTIONAL"):
        KeyboardConfig.from_env()
