"""The console wrapper: node lines through, dora's lifecycle and diagnostics hidden and counted,
a failure report condensed, anything unknown shown unchanged (lines as dora 1.1 prints them)."""

from __future__ import annotations

from sim_teleop.launch.console import filter_lines

RUN = """\
clock: DEBUG    building node
08:40:53 DEBUG  clock: daemon::spawner spawning node
08:40:53 INFO   clock: spawner spawning: "/work/main/.venv/bin/python" -u /work/main/nodes/clock.py

08:40:53 INFO   [dora]: dora daemon finished building nodes, spawning...
08:40:53 DEBUG  clock: spawner spawned node with pid 28235
08:40:55 INFO   clock: daemon node is ready
08:40:58 stdout sim: [sim] gym_hil/PandaPickCubeBase-v0, seed 0, 10 Hz, 20 s limit
08:41:17 WARN   sim: dora_node_api::node output `frame`: 102600 B -> daemon path (dora-rs/dora#2742 diagnostic)
08:41:17 WARN   sim: something dora wants the user to know
12:50:09 WARN   recorder: zenoh::api::admin Unable to find transport for link event: 672908768c3909eaeafad663db41b5ef
08:41:22 stdout expert: [expert] episode 1/3 (sim attempt 0): success=True
08:42:40 stdout policy: Loading weights from local directory
08:42:41 stdout recorder: [recorder] error: the root already exists
\x1b[2m2026-12-01T08:42:43.918299Z\x1b[0m \x1b[31mERROR\x1b[0m \x1b[1mnode_failure\x1b[0m: dora_daemon::spawn::prepared: \
node exited with error: ExitCode(1) node_id=recorder
08:42:43 ERROR  recorder: daemon exited with code 1 with stderr output:
---------------------------------------------------------------------------------
[recorder] error: the root already exists
---------------------------------------------------------------------------------

08:42:44 stdout sim: [sim] the recorder has gone: stopping
08:41:32 DEBUG  clock: daemon handling node stop with exit status Success (restart: false, restart_count: 0)
08:41:32 INFO   clock: daemon clock finished successfully
\x1b[2m2026-12-01T08:41:33.355984Z\x1b[0m \x1b[32m INFO\x1b[0m run_inner: dora_daemon: exiting daemon
a line nobody expected


[ERROR]
Dataflow failed:

Node `recorder` failed: exited with code 1 with stderr output:
---------------------------------------------------------------------------------
[recorder] error: the root already exists
---------------------------------------------------------------------------------

Node `policy` failed: exited with code 2 with stderr output:
---------------------------------------------------------------------------------
[policy] error: no checkpoint
---------------------------------------------------------------------------------

Location:
    binaries/cli/src/common.rs:55:17
"""


def test_node_lines_pass_and_dora_noise_is_hidden_and_counted() -> None:
    out: list[str] = []
    console = filter_lines(RUN.splitlines(keepends=True), out.append)
    assert out == [
        "08:40:58 [sim] gym_hil/PandaPickCubeBase-v0, seed 0, 10 Hz, 20 s limit",
        "08:41:17 WARN   sim: something dora wants the user to know",
        "08:41:22 [expert] episode 1/3 (sim attempt 0): success=True",
        "08:42:40 [policy] Loading weights from local directory",
        "08:42:41 [recorder] error: the root already exists",
        "[dora] node recorder failed: exited with code 1 (its own lines are above)",
        "08:42:44 [sim] the recorder has gone: stopping",
        "a line nobody expected",
        "[dora] node policy failed: exited with code 2 (its own lines are above)",
        f"[dora] {console.hidden} of dora's own lines hidden (lifecycle, diagnostics); -v shows them",
    ]
    total = len(RUN.splitlines())
    passed_through = len(out) - 3  # less the summary and the two failure lines it wrote itself
    assert console.hidden == total - passed_through  # every input line is either shown or counted
    assert console.failed == {"recorder", "policy"}


def test_lines_of_dora_start_attach_name_their_daemon() -> None:
    out: list[str] = []
    filter_lines(
        [
            '09:22:58 INFO   clock on daemon `A`: spawner spawning: "/venv/bin/python" -u nodes/clock.py\n',
            "09:24:32 stdout recorder on daemon `A`: [recorder] saved attempt 1 as episode 1\n",
            "09:24:36 INFO   [dora] on default daemon: coordinator dataflow finished\n",
        ],
        out.append,
    )
    assert out[0] == "09:24:32 [recorder] saved attempt 1 as episode 1" and len(out) == 2, out


def test_an_error_of_dora_itself_is_shown_without_its_backtrace() -> None:
    out: list[str] = []
    text = (
        "\n\n[ERROR]\nthis dataflow was built locally, but it has `deploy` sections\n\n"
        "  run `dora build` against the running coordinator\n\nLocation:\n"
        "    binaries/cli/src/command/start/mod.rs:267:9\n\nStack backtrace:\n   0: <unknown>\n"
    )
    filter_lines(text.splitlines(keepends=True), out.append)
    assert out[:2] == [
        "[dora] this dataflow was built locally, but it has `deploy` sections",
        "[dora] run `dora build` against the running coordinator",
    ]
    assert len(out) == 3 and "hidden" in out[2], out


def test_a_clean_stream_gets_no_summary_line() -> None:
    out: list[str] = []
    filter_lines(["08:41:22 stdout expert: [expert] done\n"], out.append)
    assert out == ["08:41:22 [expert] done"]


def test_discarding_event_warnings_are_hidden_and_counted() -> None:
    """A node that fell behind under load makes dora warn once per dropped event (23-88 a run seen at
    load 10+): the console counts them in its summary line instead."""
    warn = "14:36:20 WARN   clock: dora_node_api::event_stream::scheduler Discarding event for input `frame` due to queue size limit\n"
    lines = [
        "14:36:19 stdout sim: [sim] ticking\n",
        warn,
        warn.replace("clock", "sim").replace("`frame`", "`tick`"),
    ]
    out: list[str] = []
    console = filter_lines(lines, out.append)
    assert out[0] == "14:36:19 [sim] ticking" and len(out) == 2, out
    assert console.discarded == 2 and "2 'Discarding event' warnings" in out[1], out
