"""dora node: keyboard teleoperation from X11, the terminal dora runs in, or evdev (`control.keys`).

Input: `frame` from the sim (one action is sent per frame; the target resets when an episode resets).
Outputs: `action`, `control`. KEYBOARD_BACKEND picks the backend (auto by default: one line says which
and why). With KEYBOARD_OPTIONAL=1 and no keyboard it logs one line and steps aside.

In the eval (KEYBOARD_TAKEOVER=1) an action goes out only while a motion or gripper key is held, to the
sim's takeover input (control.takeover); with EVAL_CORRECTOR=operator the simulated corrector plays this
node's part instead of the keys (nodes.corrector): dora cannot swap a node by env, so the node does.
"""

from __future__ import annotations

import sys
from typing import Any

from sim_teleop.config import ConfigError
from sim_teleop.control.keys.choose import open_keys
from sim_teleop.control.takeover import KeyboardTakeover
from sim_teleop.control.teleop import KeyboardConfig, KeyboardTeleop, phase_prompt
from sim_teleop.messages import (
    ACTION,
    CONTROL,
    FRAME,
    WARM_UP,
    EndReason,
    Frame,
    Phase,
    decode_frame,
    encode_action,
    encode_control,
)
from sim_teleop.nodes.serve import Serve, log

NAME = "keyboard"
IDLE_S = 0.02
"""How soon after a key goes down between two frames the takeover's first action leaves. It is marked
`TAKEOVER`: the eval's clock ticks at once on it, so the handover takes about this plus dora's delivery,
not up to a tick more."""
READY = "ready: arrows x/y, Shift L/R z down/up, Super = close gripper, Space next, Ctrl re-record, Esc stop"


def _start_listener(teleop: KeyboardTeleop) -> Any:
    """Start the keyboard backend and say which and why; RuntimeError with the reason when none can."""
    keys, why = open_keys(KeyboardConfig.from_env().backend, teleop)
    log(NAME, f"keys from {keys.name} ({keys.tty}; {why})")
    return keys


def _legend(keys: Any) -> list[str]:
    legend = getattr(keys, "legend", None)
    return ["ready: " + legend[0], *legend[1:]] if legend else [READY]


def main(node: Any = None) -> None:
    try:
        cfg = KeyboardConfig.from_env()
    except ConfigError as exc:
        log(NAME, f"configuration error: {exc}")
        sys.exit(2)
    if cfg.corrector == "operator":  # the eval's simulated corrector plays this node
        from sim_teleop.nodes import corrector

        corrector.main(node)
        return
    teleop = KeyboardTeleop()
    serve = Serve(NAME, node)  # register first: a node leaving before that makes its peers fail to start
    try:
        keys = _start_listener(teleop)
    except RuntimeError as exc:
        if cfg.optional:
            log(NAME, f"{exc}: keyboard controls disabled, the dataflow runs unattended")
            return
        log(
            NAME,
            f"error: {exc}. Run this dataflow from a terminal or a desktop session (README, Keyboard), "
            "or record unattended with `dora run dataflow-autopilot.yaml`.",
        )
        sys.exit(1)
    try:
        _serve(serve, teleop, keys, cfg.takeover)
    finally:
        keys.stop()
    serve.finish()


class _Prompt:
    """Says what the keys do now, once per phase change."""

    def __init__(self, discard: str) -> None:
        self.discard = discard
        self.shown: tuple[Phase, int, EndReason] | None = None

    def __call__(self, frame: Frame) -> None:
        # A success ends the attempt on a running frame: prompt when the phase changes, not then.
        reason = frame.end_reason if frame.phase is Phase.DONE else EndReason.NONE
        where = (frame.phase, frame.episode_index, reason)
        if where != self.shown:
            self.shown = where
            log(NAME, phase_prompt(*where, discard=self.discard))


def _serve(serve: Serve, teleop: KeyboardTeleop, keys: Any, takeover: bool) -> None:
    for line in _legend(keys):
        log(NAME, line)
    discard = getattr(keys, "discard_key", "Ctrl")
    if takeover:
        log(
            NAME, "takeover: a motion or gripper key takes control from the policy; it gets it back 1 s after"
        )
        log(NAME, "the last key is let go. A closed gripper stays closed until you press Super.")
        _serve_takeover(serve, teleop, discard)
        return
    serve.send(ACTION, encode_action(teleop.action()))  # warm-up: the first send is slow
    prompt = _Prompt(discard)

    def on_frame(frame: Frame, _event: dict) -> None:
        prompt(frame)
        if frame.phase is not Phase.RUNNING:
            teleop.reset()
        for command in teleop.controls():
            serve.send(CONTROL, encode_control(command))
        serve.send(ACTION, encode_action(teleop.action()))

    serve.on(FRAME, on_frame, decode_frame)
    serve.run()


def _serve_takeover(serve: Serve, teleop: KeyboardTeleop, discard: str) -> None:
    """The eval: control keys as always; an action only while a person drives (the warm-up action is
    marked as one: it does not take over)."""
    takeover = KeyboardTakeover(teleop)
    serve.send(ACTION, encode_action(teleop.action()), {WARM_UP: True})  # the first send is slow
    prompt = _Prompt(discard)
    latest: Frame | None = None

    def on_idle() -> None:  # no event for IDLE_S: a key that just went down takes over now
        early = takeover.on_idle(latest)
        if early is not None:
            serve.send(ACTION, encode_action(early), takeover.metadata())

    def on_frame(frame: Frame, _event: dict) -> None:
        nonlocal latest
        latest = frame
        prompt(frame)
        action, lines = takeover.on_frame(frame)
        for line in lines:
            log(NAME, line)
        for command in teleop.controls():
            serve.send(CONTROL, encode_control(command))
        if action is not None:
            serve.send(ACTION, encode_action(action), takeover.metadata())

    serve.on(FRAME, on_frame, decode_frame)
    serve.run(idle_s=IDLE_S, on_idle=on_idle)


if __name__ == "__main__":
    main()
