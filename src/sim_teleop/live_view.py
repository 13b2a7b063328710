"""Live view of a recording in rerun (rerun-sdk directly; dora-rerun does not work with dora 1.1).

Shows both cameras, the 18 state values, the 4 action values, the sim's episode/phase, whether the
frame is being recorded, and each episode's quality score when its report arrives.
Modes: `spawn` (open the rerun viewer), `save` (write an .rrd file, for headless machines), `off`,
and `auto` = spawn when a display exists, else save when an .rrd path is configured, else off.
Logging failures never stop a recording: the view switches itself off and says so once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim_teleop.messages import ACTION_NAMES, CAMERAS, STATE_NAMES, Frame, QualityReport

MODES = ("auto", "spawn", "save", "off")


def resolve_mode(mode: str, rrd_path: str | None, display: str | None = None) -> str:
    """The mode actually used: `auto` becomes spawn/save/off from the display and the .rrd path."""
    mode = mode.strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"rerun mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "auto":
        display = os.environ.get("DISPLAY") if display is None else display
        return "spawn" if display else ("save" if rrd_path else "off")
    if mode == "save" and not rrd_path:
        raise ValueError("rerun mode 'save' needs an .rrd path (RECORD_RRD_PATH)")
    return mode


class LiveView:
    def __init__(self, mode: str, rrd_path: str | None, log: Callable[[str], None] = print) -> None:
        self.mode = resolve_mode(mode, rrd_path)
        self.log = log
        self.rr: Any = None
        self._tick = 0
        if self.mode == "off":
            return
        try:
            import rerun as rr

            rr.init("sim_teleop_recorder", spawn=False)
            if self.mode == "spawn":
                rr.spawn()
            else:
                path = Path(rrd_path or "recording.rrd")
                path.parent.mkdir(parents=True, exist_ok=True)
                rr.save(path)
            self.rr = rr
            log(f"live view: rerun {self.mode}" + (f" -> {rrd_path}" if self.mode == "save" else ""))
        except Exception as exc:
            self._disable(exc)

    def _disable(self, exc: Exception) -> None:
        self.log(f"live view disabled: {type(exc).__name__}: {exc}")
        self.rr = None

    def frame(self, frame: Frame, recording: bool, saved: int) -> None:
        rr = self.rr
        if rr is None:
            return
        try:
            self._tick += 1
            rr.set_time("tick", sequence=frame.tick_index or self._tick)
            for cam in CAMERAS:
                rr.log(f"cameras/{cam}", rr.Image(frame.image(cam)))
            for name, value in zip(STATE_NAMES, frame.state, strict=False):
                rr.log(f"state/{name}", rr.Scalars(float(value)))
            for name, value in zip(ACTION_NAMES, frame.action, strict=False):
                rr.log(f"action/{name}", rr.Scalars(float(value)))
            rr.log("episode/attempt", rr.Scalars(float(frame.episode_index)))
            rr.log("episode/recording", rr.Scalars(1.0 if recording else 0.0))
            rr.log("episode/saved", rr.Scalars(float(saved)))
            rr.log(
                "episode/status",
                rr.TextDocument(
                    f"attempt {frame.episode_index} | {frame.phase.value} | frame {frame.frame_index} | "
                    f"{'REC' if recording else 'not recorded'} | end: {frame.end_reason.value or '-'} | "
                    f"saved {saved}"
                ),
            )
        except Exception as exc:
            self._disable(exc)

    def quality(self, attempt: int, report: QualityReport | None, saved_as: int | None) -> None:
        rr = self.rr
        if rr is None:
            return
        try:
            if report is not None:
                rr.log("quality/score", rr.Scalars(float(report.score)))
            text = (
                f"attempt {attempt}: "
                + (
                    f"score {report.score:.3f} ({report.verdict.value}) {report.reasons}"
                    if report
                    else "no report"
                )
                + (f" -> dataset episode {saved_as}" if saved_as is not None else " -> not saved")
            )
            rr.log("quality/log", rr.TextLog(text))
        except Exception as exc:
            self._disable(exc)
