"""The sim node with dora's MockNode: bad messages are logged once and survived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from conftest import load_node
from dora.testing import MockNode

from sim_teleop.messages import STATE_TCP, Phase, decode_frame, encode_action, encode_control
from sim_teleop.sim.runner import tick_is_stale

TICK = ("tick", pa.array([0]))


def test_bad_messages_are_ignored_and_logged_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIM_VIEWER", "0")
    good = encode_action([0.08, 0.0, 0.0, 0.0])
    events = [TICK, ("action", good)] + [TICK] * 10
    events += [
        ("action", pa.array([float("nan")] * 4)),
        ("action", pa.array([float("inf")] * 4)),
        ("action", pa.array([1.0, 2.0])),
        ("action", pa.array(["x"] * 4)),
        ("action", pa.array(list(b"abcd"), pa.uint8())),  # raw bytes, as dora delivers them
        ("action", pa.array([1, 2, 3, 0])),
        ("control", pa.array(["dance"])),
        ("control_recorder", pa.array([3])),
    ]
    events += [TICK] * 5 + [("control", encode_control("stop")), TICK]
    node = MockNode(events)
    load_node("sim").main(node)
    frames = [decode_frame(v) for v in node.outputs["frame"]]
    assert len(frames) == 16  # nothing after stop
    assert all(f.phase is Phase.RUNNING for f in frames)
    # The last valid action is kept through the bad ones.
    assert all(np.allclose(f.action, [0.08, 0, 0, 0]) for f in frames[1:])
    moved = frames[-1].state[STATE_TCP] - frames[0].state[STATE_TCP]
    assert moved[0] > 0.05
    err = capsys.readouterr().err
    # Each kind of bad action logged once (NaN, wrong length, wrong type), the repeats only counted.
    assert err.count("ignored bad action") == 3
    assert "NaN or inf" in err and "expected 4 values" in err and "got Arrow type string" in err
    assert "got Arrow type uint8" not in err  # a second 'type' problem: counted, not logged
    assert "unknown command 'dance'" in err and "ignored bad control_recorder" in err
    assert "action:length: 1, action:not_finite: 2, action:type: 3" in err


def test_bad_config_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIM_TIME_LIMIT_S", "soon")
    with pytest.raises(SystemExit) as exc:
        load_node("sim").main(MockNode([TICK]))
    assert exc.value.code == 2
    assert "SIM_TIME_LIMIT_S='soon': expected a number" in capsys.readouterr().err


def test_stale_ticks_are_skipped_fresh_ones_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick sent more than one period ago has a newer one queued behind it: no frame for it."""
    monkeypatch.setenv("SIM_VIEWER", "0")
    now = datetime.now(UTC) + timedelta(hours=1)  # "fresh" must outlast the sim's start-up

    def tick(age_s: float) -> dict:
        meta = {"timestamp": now - timedelta(seconds=age_s)}
        return {"type": "INPUT", "id": "tick", "value": pa.array([0]), "metadata": meta}

    hour = 3600.0
    events = [tick(0.0), tick(hour + 5), tick(hour + 4), tick(0.0), tick(hour + 3), tick(0.0)]
    node = MockNode(events)
    load_node("sim").main(node)
    frames = [decode_frame(v) for v in node.outputs["frame"]]
    assert len(frames) == 3  # the ticks seconds old (the period is 0.1 s) were skipped


def test_tick_staleness_is_one_period() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert not tick_is_stale(now - timedelta(seconds=0.09), now, 0.1)
    assert tick_is_stale(now - timedelta(seconds=0.11), now, 0.1)
    assert not tick_is_stale(None, now, 0.1)  # no timestamp (a hand-made event): always served
