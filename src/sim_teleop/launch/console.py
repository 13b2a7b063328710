"""`dora run` with a console a person can read: the nodes' lines, and dora's own only when they matter.

    sim-teleop dataflow-autopilot.yaml [dora run options]    (or python -m sim_teleop.launch.console ...)
    sim-teleop -v dataflow-autopilot.yaml                     # dora's full output, unchanged
    sim-teleop review ROOT [--port N]                         # review a dataset in a browser

Why: dora 1.1 prints ~45 lifecycle lines per run at its default level (build, spawn, ready, finished:
DEBUG and INFO lines, nine per node), a dozen `dora-rs#2742 diagnostic` warnings from its wheel, and on
a node failure repeats that node's output twice and adds a CLI backtrace. No node or YAML setting
removes them (`--log-level info` hides the nodes' own lines too). In a 10-episode autopilot run they
were 58 of 98 lines. This wrapper runs the same `dora run`, passes every node line through (as
`HH:MM:SS [node] ...`), hides the lifecycle and diagnostic lines, condenses a failure report to one
line per failed node, prints anything it does not recognise unchanged, and ends with one line that
counts what it hid. `-v` or `SIM_TELEOP_VERBOSE=1` shows dora's output as is. The exit code is dora's.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sim_teleop.config import verbose_requested

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ON = r"(?: on (?:daemon `[^`]*`|default daemon))?"  # `dora start --attach` names the daemon
NODE_LINE = re.compile(rf"^(?:(\d\d:\d\d:\d\d) )?stdout (\S+){ON}: (.*)$")
LIFECYCLE = (
    re.compile(rf"^(?:\d\d:\d\d:\d\d )?(?:TRACE|DEBUG|INFO)\s+\S+{ON}:"),  # 08:40:53 INFO   sim: daemon ...
    re.compile(r"^\S+: (?:TRACE|DEBUG|INFO)\s"),  # clock: DEBUG    building node
    re.compile(r"^\d{4}-\d\d-\d\dT\S+\s+(?:TRACE|DEBUG|INFO)\s"),  # the daemon's own tracing lines
)
DIAGNOSTIC = "(dora-rs/dora#2742 diagnostic)"
ZENOH = re.compile(rf"^(?:\d\d:\d\d:\d\d )?WARN\s+\S+{ON}: zenoh::")  # dora's transport chatter about links
NODE_EXITED = re.compile(
    rf"^(?:\d\d:\d\d:\d\d )?ERROR\s+(\S+){ON}: daemon exited with (.*?) with stderr output:$"
)
NODE_FAILURE_TRACE = re.compile(r"^\d{4}-\d\d-\d\dT\S+\s+ERROR\s+node_failure:")
DISCARDING = re.compile(rf"^(?:\d\d:\d\d:\d\d )?WARN\s+\S+{ON}: \S+ Discarding event for input")
"""dora's warning per event dropped from a full input queue (a frame-rate input of a node that fell
behind under load: measured 23-88 a run at load 10+); counted in the summary, not shown one by one."""
FAILED_NODE = re.compile(r"^Node `(\S+)` failed: (.*?)(?: with stderr output:)?$")
RULE = re.compile(r"^-{20,}$")


def _noise(line: str) -> bool:
    """dora's own blank, diagnostic and lifecycle lines."""
    if not line.strip() or DIAGNOSTIC in line or NODE_FAILURE_TRACE.match(line) or ZENOH.match(line):
        return True
    return any(p.match(line) for p in LIFECYCLE)


@dataclass
class ConsoleFilter:
    """Turns dora's output, line by line, into what the person at the console should see."""

    emit: Callable[[str], None]
    hidden: int = 0
    discarded: int = 0  # of the hidden lines, dora's "Discarding event" warnings
    failed: set[str] = field(default_factory=set)
    _skip_block: bool = False  # inside a repeated node-output block between two rules
    _rules_seen: int = 0
    _final_report: bool = False  # inside the CLI's closing "[ERROR]" report
    _backtrace: bool = False  # past its "Location:" line

    def feed(self, raw: str) -> None:
        line = ANSI.sub("", raw.rstrip("\n"))
        if self._skip_block:
            self._block_line(line)
        elif self._final_report:
            self._report_line(line)
        else:
            self._stream_line(line)

    def _block_line(self, line: str) -> None:
        """Inside a repeated node-output block: hidden up to its closing rule."""
        self.hidden += 1
        if RULE.match(line):
            self._rules_seen += 1
            self._skip_block = self._rules_seen < 2

    def _report_line(self, line: str) -> None:
        """Inside the CLI's closing report: failed nodes and dora's own errors are said, the rest hidden."""
        failed = FAILED_NODE.match(line)
        if line.startswith("Location:"):
            self._backtrace = True  # the CLI's own source location and stack: never for a user
        if failed:
            self._node_failed(failed.group(1), failed.group(2))
        elif RULE.match(line):
            self._skip_block, self._rules_seen = True, 1
        elif line.strip() and line.strip() != "Dataflow failed:" and not self._backtrace:
            self.emit(f"[dora] {line.strip()}")  # an error of dora's own: say it
            return
        self.hidden += 1

    def _stream_line(self, line: str) -> None:
        node = NODE_LINE.match(line)
        if node:
            stamp, name, text = node.groups()
            prefix = "" if text.startswith("[") else f"[{name}] "
            self.emit(f"{stamp + ' ' if stamp else ''}{prefix}{text}")
            return
        exited = NODE_EXITED.match(line)
        if exited:
            self.hidden += 1
            self._node_failed(exited.group(1), f"exited with {exited.group(2)}")
            self._skip_block, self._rules_seen = True, 0
        elif line.strip() == "[ERROR]":
            self.hidden += 1
            self._final_report = True
        elif DISCARDING.match(line):
            self.hidden += 1
            self.discarded += 1
        elif _noise(line):
            self.hidden += 1
        else:
            self.emit(line)

    def _node_failed(self, name: str, how: str) -> None:
        if name not in self.failed:
            self.failed.add(name)
            self.emit(f"[dora] node {name} failed: {how} (its own lines are above)")

    def summary(self) -> str | None:
        if not self.hidden:
            return None
        dropped = (
            f", {self.discarded} 'Discarding event' warnings (a node's input queue was full)"
            if self.discarded
            else ""
        )
        what = f"lifecycle, diagnostics{dropped}"
        return f"[dora] {self.hidden} of dora's own lines hidden ({what}); -v shows them"


def filter_lines(lines: Iterable[str], emit: Callable[[str], None]) -> ConsoleFilter:
    console = ConsoleFilter(emit)
    for line in lines:
        console.feed(line)
    if (summary := console.summary()) is not None:
        emit(summary)
    return console


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["review"]:
        from sim_teleop.review.cli import main as review

        return review(args[1:])
    verbose = verbose_requested()
    if args[:1] in (["-v"], ["--verbose"]):
        verbose, args = True, args[1:]
    if not args or args[0] in ("-h", "--help"):
        print("\n".join(__doc__.strip().splitlines()[2:5]), file=sys.stderr)
        return 2
    command = ["dora", "run", *args]
    if verbose:
        return subprocess.call(command)
    # Ctrl-C reaches dora from the terminal (same process group) and dora stops the nodes; this
    # process keeps reading until dora has said everything, then exits with dora's code.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1
    ) as proc:
        signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        assert proc.stdout is not None
        filter_lines(proc.stdout, lambda text: print(text, flush=True))
        return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
