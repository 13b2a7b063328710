"""dora node: keyboard teleoperation through pynput (needs an X display; Xvfb in tests).

Input: `frame` from the sim (one action is sent per frame; the target resets when an episode resets).
Outputs: `action`, `control`. With KEYBOARD_OPTIONAL=1 and no display it logs one line and steps aside.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sim_teleop.config import ConfigError
from sim_teleop.control.teleop import KeyboardConfig, KeyboardTeleop, key_name, phase_prompt
from sim_teleop.messages import ACTION, CONTROL, EndReason, Phase, encode_action, encode_control
from sim_teleop.nodes.serve import Serve, log

NAME = "keyboard"


def _start_listener(teleop: KeyboardTeleop) -> Any:
    """Start pynput's listener; raises RuntimeError with a readable reason when there is no X display."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise RuntimeError("no X display (DISPLAY is not set)")
    try:
        from pynput import keyboard
    except ImportError as exc:  # pynput's Linux backend fails to import without an X connection
        raise RuntimeError(f"cannot use the keyboard: {exc}") from None
    listener = keyboard.Listener(
        on_press=lambda key: teleop.press(key_name(key)),
        on_release=lambda key: teleop.release(key_name(key)),
    )
    listener.daemon = True
    listener.start()
    listener.wait()
    return listener


def main(node: Any = None) -> None:
    try:
        cfg = KeyboardConfig.from_env()
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    teleop = KeyboardTeleop()
    serve = Serve(NAME, node)  # register first: a node leaving before that makes its peers fail to start
    try:
        listener = _start_listener(teleop)
    except RuntimeError as exc:
        if cfg.optional:
            log(NAME, f"{exc}: keyboard controls disabled, the dataflow runs unattended")
            return
        log(
            NAME,
            f"error: {exc}. Run this dataflow in a desktop session (or under Xvfb), "
            "or record unattended with `dora run dataflow-autopilot.yaml`.",
        )
        sys.exit(1)
    log(
        NAME,
        "ready: arrows x/y, Shift L/R z down/up, Super = close gripper, Space next, Ctrl re-record, Esc stop",
    )
    serve.send(ACTION, encode_action(teleop.action()))  # warm-up: the first send is slow
    shown: tuple[Phase, int, EndReason] | None = None
    for frame in serve.frames():
        # A success ends the attempt on a running frame: prompt when the phase changes, not then.
        reason = frame.end_reason if frame.phase is Phase.DONE else EndReason.NONE
        where = (frame.phase, frame.episode_index, reason)
        if where != shown:
            shown = where
            log(NAME, phase_prompt(*where))
        if frame.phase is not Phase.RUNNING:
            teleop.reset()
        for command in teleop.controls():
            serve.send(CONTROL, encode_control(command))
        serve.send(ACTION, encode_action(teleop.action()))
    listener.stop()
    serve.finish()


if __name__ == "__main__":
    main()
