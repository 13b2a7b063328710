"""Terminal input bytes -> key names, for both ways a terminal reports keys.

Legacy: a key is its character or escape sequence (arrows `ESC [ A` / `ESC O A`, PageUp `ESC [ 5 ~`),
sent on press and repeated while held, never on release (`kind="typed"`). Esc alone is the byte ESC
with nothing after it within `ESC_TIMEOUT`, as terminal programs tell it from a sequence's start (vim's
ttimeout); bytes of one sequence arrive together, even over SSH.

The kitty keyboard protocol (kitty, foot, WezTerm, Ghostty, Alacritty, iTerm2): `ESC [ code ; mods :
event u` (and `ESC [ 1 ; mods : event A` for arrows) with event 1 press, 2 repeat, 3 release, and with
flag 8 also Shift, Ctrl and Super alone. The terminal's answers to our queries (`ESC [ ? flags u`,
the primary device attributes `ESC [ ? ... c`) come back as `reply-kitty` / `reply-da`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ESC_TIMEOUT = 0.08
"""An ESC not followed by more within this is the Esc key."""

Kind = Literal["typed", "press", "repeat", "release", "reply-kitty", "reply-da"]

CSI = re.compile(rb"\x1b\[([\x30-\x3f]*)([\x20-\x2f]*)([\x40-\x7e])")
ARROWS = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end"}
TILDE = {2: "insert", 3: "delete", 5: "page_up", 6: "page_down"}
KITTY_CODES = {
    9: "tab",
    13: "enter",
    27: "esc",
    32: "space",
    127: "backspace",
    57441: "shift",
    57442: "ctrl",
    57443: "alt",
    57444: "cmd",
    57447: "shift_r",
    57448: "ctrl_r",
    57449: "alt_r",
    57450: "cmd_r",
}
KITTY_EVENTS: dict[int, Kind] = {1: "press", 2: "repeat", 3: "release"}
CTRL_MOD = 4  # kitty's modifier bits (the parameter is 1 + bits): shift 1, alt 2, ctrl 4, super 8
SINGLE = {0x20: "space", 0x0D: "enter", 0x0A: "enter", 0x09: "tab", 0x7F: "backspace", 0x08: "backspace"}


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind


class TerminalDecoder:
    """Feed it bytes as they arrive; it returns the keys complete so far and keeps a partial sequence.
    `interrupt` is the terminal's VINTR byte (Ctrl-C): it decodes to the name `interrupt`."""

    def __init__(self, interrupt: int = 0x03) -> None:
        self.interrupt = interrupt
        self.kitty = False  # set once the terminal took the kitty protocol: a bare `ESC [ A` is a press
        self._buf = b""
        self._since = 0.0  # arrival of the oldest undecoded byte

    def feed(self, data: bytes, now: float) -> list[Key]:
        if not self._buf:
            self._since = now
        self._buf += data
        return self._decode(final=False)

    def flush(self, now: float) -> list[Key]:
        """A lone ESC that waited `ESC_TIMEOUT` is the Esc key."""
        if self._buf and now - self._since >= ESC_TIMEOUT:
            return self._decode(final=True)
        return []

    def deadline(self) -> float | None:
        return self._since + ESC_TIMEOUT if self._buf else None

    def _decode(self, final: bool) -> list[Key]:
        out: list[Key] = []
        while self._buf:
            used, key = self._one(self._buf, final)
            if used == 0:
                break
            self._buf = self._buf[used:]
            if key is not None:
                out.append(key)
        return out

    def _one(self, buf: bytes, final: bool) -> tuple[int, Key | None]:
        """(bytes used, the key they make); (0, None) while a sequence is incomplete."""
        if buf[0] != 0x1B:
            return 1, self._byte(buf[0])
        if len(buf) == 1:
            return (1, Key("esc", "typed")) if final else (0, None)
        if buf[1:2] == b"[":
            match = CSI.match(buf)
            if match is None:
                incomplete = len(buf) < 32 and re.fullmatch(rb"\x1b\[[\x20-\x3f]*", buf) is not None
                return (0, None) if incomplete and not final else (2, None)
            params, last = match.group(1).decode(), match.group(3).decode()
            return match.end(), _csi(params, last, self.kitty)
        if buf[1:2] == b"O":
            if len(buf) < 3:
                return (0, None) if not final else (2, None)
            name = ARROWS.get(chr(buf[2]))
            return 3, Key(name, "typed") if name else None
        if buf[1] == 0x1B:
            return 1, Key("esc", "typed")
        return 1, None  # Alt+key: ESC then the key, which decodes on its own

    def _byte(self, byte: int) -> Key | None:
        if byte == self.interrupt:
            return Key("interrupt", "typed")
        if byte in SINGLE:
            return Key(SINGLE[byte], "typed")
        if 0x21 <= byte < 0x7F:
            return Key(chr(byte).lower(), "typed")
        return None


def _csi(params: str, final: str, kitty: bool) -> Key | None:
    if params.startswith("?"):
        kinds: dict[str, Kind] = {"u": "reply-kitty", "c": "reply-da"}
        return Key(params[1:], kinds[final]) if final in kinds else None
    fields = params.split(";")
    mods, event = _mods(fields[1] if len(fields) > 1 else "")
    kind: Kind = KITTY_EVENTS.get(event, "press") if kitty else "typed"
    if final == "u":
        code = _int(fields[0].split(":")[0])
        if code == ord("c") and mods & CTRL_MOD:
            return Key("interrupt", kind)
        name = KITTY_CODES.get(code) or (chr(code).lower() if 0x21 <= code < 0x7F else None)
        return Key(name, kind) if name else None
    if final == "~":
        name = TILDE.get(_int(fields[0]))
        return Key(name, kind) if name else None
    name = ARROWS.get(final)
    return Key(name, kind) if name else None


def _mods(field: str) -> tuple[int, int]:
    """kitty's `mods:event` -> (modifier bits, event type); press when absent."""
    mods, _, event = field.partition(":")
    return max(0, _int(mods, 1) - 1), _int(event, 1)


def _int(text: str, default: int = 0) -> int:
    return int(text) if text.isdigit() else default
