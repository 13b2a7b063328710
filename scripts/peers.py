"""Third-party LeRobot dataset checkers, run per episode beside our scorer for comparison.

    nice -n 10 .venv/bin/python scripts/peers.py /tmp/peer_data --venv /work/peers-venv

Peers: lerobot-doctor 0.2.0, kalanos 0.8.2, deepen-grade 0.4.1, lerobot-lint 0.1.1 (PyPI). Each one
runs as a subprocess from its own virtual environment on a local LeRobot v3.0 dataset directory,
offline (HF_HUB_OFFLINE=1), and its report is parsed into one `PeerResult` per episode.

Why a separate venv: the peers are not project dependencies and their pins clash with ours. lerobot-lint
needs `lerobot[dataset]` and so torch; our lerobot 0.6.1 needs Python >= 3.12 and torch < 2.12, while
the CPU torch wheel on this machine's disk is 2.13.0 for Python 3.11 (any other torch would be a
multi-GB CUDA download). So the peers live in a Python 3.11 venv with that CPU torch and lerobot 0.4.4
(the newest release that still installs on 3.11; it reads v3.0), everything installed with --no-deps
from a fully pinned list: lerobot 0.4.4 declares torch < 2.11, torchvision, wandb, diffusers and more,
none of which lerobot-lint's code path imports. PyPI's torchvision does not load beside the CPU torch,
so it is left out and `run_lerobot_lint` stubs the module (lerobot imports it but lelint never calls
it). Create the venv (about 1.6 GB, nearly all of it torch):

    /root/.pyenv/versions/3.11.7/bin/python3.11 -m venv /work/peers-venv
    /work/peers-venv/bin/python -m pip install --no-deps -r scripts/peers_requirements.txt

This module imports nothing from the project nor from the peers, so it runs under any Python >= 3.10.

Score, higher = better, in [0, 1]:
- a peer with its own per-episode 0-100 score (lerobot-doctor `score`, kalanos episode score): that / 100;
- a peer that only lists issues (deepen-grade, lerobot-lint): 1 / (1 + n_fail + 0.25 * n_warn), counting
  each distinct issue code of the episode once, at its worst severity (info-level codes count 0).
`flagged` is the peer's own verdict (see each `run_*`), `reasons` its issue codes for the episode, sorted.
A `run_*` raises `PeerError` (one line) when its peer fails or times out; `run_all` never raises.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_VENV = Path("/work/peers-venv")


@dataclass(frozen=True)
class PeerResult:
    """One peer's verdict on one episode."""

    score: float  # higher = better, in [0, 1] (module docstring)
    flagged: bool  # the peer's own verdict: bad / failing / drop
    reasons: tuple[str, ...]  # the peer's issue codes for this episode, sorted


class PeerError(RuntimeError):
    """A peer failed, timed out or gave no per-episode result; the message is one line."""


Peer = Callable[[Path, Path], dict[int, PeerResult]]

_SEVERITY = {"error": "fail", "fail": "fail", "critical": "fail", "warning": "warn", "warn": "warn"}


def issue_score(worst: dict[str, str]) -> float:
    """1 / (1 + n_fail + 0.25 n_warn) over distinct issue codes, each at its worst severity."""
    n_fail = sum(1 for s in worst.values() if s == "fail")
    n_warn = sum(1 for s in worst.values() if s == "warn")
    return 1.0 / (1.0 + n_fail + 0.25 * n_warn)


def _worst(issues: Iterable[tuple[str, str]]) -> dict[str, str]:
    """code -> worst normalised severity ('fail' > 'warn' > 'info')."""
    rank = {"info": 0, "warn": 1, "fail": 2}
    worst: dict[str, str] = {}
    for code, severity in issues:
        sev = _SEVERITY.get(severity.lower(), "info")
        if rank[sev] >= rank[worst.get(code, "info")]:
            worst[code] = sev
    return worst


def _info(root: Path) -> dict[str, Any]:
    try:
        info: dict[str, Any] = json.loads((root / "meta" / "info.json").read_text())
    except (OSError, ValueError) as e:
        raise PeerError(f"no readable meta/info.json under {root}: {e}") from e
    return info


def _timeout(root: Path, per_episode_s: float, floor_s: float) -> float:
    return max(floor_s, per_episode_s * int(_info(root).get("total_episodes", 0)))


def _episode_number(episode_id: str) -> int:
    """'episode_000042', 'peer_data::episode_000042' -> 42."""
    m = re.search(r"(\d+)$", episode_id)
    if m is None:
        raise PeerError(f"unparseable episode id {episode_id!r}")
    return int(m.group(1))


def _run(cmd: list[str], timeout_s: float, tmp: Path) -> bytes:
    """Run a peer offline, in `tmp`, its stdout discarded; returns its stderr. PeerError on a timeout
    or an exit code other than 0-2 (the peers' 'clean / findings / failed gate' codes; a run that
    failed to load the dataset writes no report, which `_read_report` tells)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_DATASETS_CACHE=str(tmp / "hf_datasets"),  # lerobot's parquet cache, thrown away after
        NO_COLOR="1",
        COLUMNS="200",
    )
    if not Path(cmd[0]).exists():
        raise PeerError(f"{cmd[0]} not found: create the peers venv (see scripts/peers.py)")
    try:
        proc = subprocess.run(
            cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as e:
        raise PeerError(f"timed out after {timeout_s:g} s") from e
    if proc.returncode not in (0, 1, 2):
        raise PeerError(f"exit {proc.returncode}: {_last_line(proc.stderr)}")
    return proc.stderr


def _last_line(stderr: bytes) -> str:
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:240] if lines else "no output"


def _read_report(path: Path, stderr: bytes) -> Any:
    if not path.exists():
        raise PeerError(f"no report written: {_last_line(stderr)}")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise PeerError(f"unreadable report {path.name}: {e}") from e


# --- lerobot-doctor ---------------------------------------------------------------------------------

# One process: every `check` plus `score` (the CLI's `score --json` drops the reasons, and the
# per-episode check lists only 20 episodes: its cap is lifted by shadowing `sorted` in that module).
_DOCTOR_MAIN = """
import builtins, json, sys
from lerobot_doctor.checks import per_episode
from lerobot_doctor.dataset_loader import load_dataset
from lerobot_doctor.runner import run_checks
from lerobot_doctor.score import score_episodes
class _All(list):
    def __getitem__(self, i):
        return list(self) if isinstance(i, slice) else list.__getitem__(self, i)
per_episode.sorted = lambda it, **kw: _All(builtins.sorted(it, **kw))
ds = load_dataset(sys.argv[1])
if ds.info is None:
    sys.exit(f"cannot load dataset: {ds.info_error}")
report = run_checks(ds)
scores = score_episodes(ds.root)
json.dump({
    "checks": [{"name": r.name, "messages": [m.message for m in r.messages]} for r in report.results],
    "scores": [{"ep": s.episode_index, "score": s.overall_score, "outlier": s.is_outlier,
                "reasons": s.reasons} for s in scores.scores],
}, open(sys.argv[2], "w"))
"""

_DOCTOR_CODES = (
    ("too short", "too_short"),
    ("single frame", "single_frame"),
    ("non-monotonic", "non_monotonic_timestamps"),
    ("dropped frame", "dropped_frames"),
    ("nan in", "nan"),
    ("inf in", "inf"),
    ("frozen", "frozen_action"),
    ("action jump", "action_jump"),
    ("statistical outlier", "score_outlier"),
    ("deviates from peers", "off_peer_distribution"),
)


def _doctor_code(text: str) -> str:
    low = text.lower()
    for needle, code in _DOCTOR_CODES:
        if needle in low:
            return code
    return re.sub(r"[^a-z]+", "_", low).strip("_")[:40]


def _doctor_check_reasons(checks: list[dict[str, Any]]) -> dict[int, set[str]]:
    """Per-episode reasons from the check messages: 'Episode N: r1; r2' (per-episode summary, temporal)
    and the episode-health outlier lists ('abnormally long episode(s) ...: [145]', first 5 only)."""
    reasons: dict[int, set[str]] = {}
    for check in checks:
        for msg in check["messages"]:
            m = re.match(r"Episode (\d+): (.*)$", msg)
            if m:
                codes = {_doctor_code(r) for r in m.group(2).split("; ")}
                reasons.setdefault(int(m.group(1)), set()).update(codes)
            m = re.search(r"abnormally (long|short) episode\(s\).*: \[([\d, ]*)\]", msg)
            if m:
                for ep in re.findall(r"\d+", m.group(2)):
                    reasons.setdefault(int(ep), set()).add(f"{m.group(1)}_episode")
    return reasons


def run_lerobot_doctor(root: Path, venv: Path, timeout_s: float | None = None) -> dict[int, PeerResult]:
    """lerobot-doctor: `score` (0-100 per episode: 0.3 action smoothness + 0.25 coverage + 0.25
    consistency with the other episodes + 0.2 length) / 100; flagged = its drop recommendation
    (score < 30 or z < -2); reasons = its per-episode check findings and score notes."""
    timeout = timeout_s or _timeout(root, 1.0, 120.0)
    with tempfile.TemporaryDirectory(prefix="peer_doctor_") as tmp:
        out = Path(tmp) / "doctor.json"
        cmd = [str(venv / "bin" / "python"), "-c", _DOCTOR_MAIN, str(root), str(out)]
        stderr = _run(cmd, timeout, Path(tmp))
        report = _read_report(out, stderr)
    check_reasons = _doctor_check_reasons(report["checks"])
    results: dict[int, PeerResult] = {}
    for s in report["scores"]:
        ep = int(s["ep"])
        codes = check_reasons.get(ep, set()) | {_doctor_code(r) for r in s["reasons"]}
        results[ep] = PeerResult(float(s["score"]) / 100.0, bool(s["outlier"]), tuple(sorted(codes)))
    return results


# --- kalanos ----------------------------------------------------------------------------------------


def _kalanos_args(root: Path) -> list[str]:
    """Scope and typing: a dataset with cameras is graded under vision-imitation-v1, which needs
    --full-frame-scan (a sampled scan leaves every episode 'unknown'); observation.state is typed as
    joint positions (kalanos splits a 'gripper' channel off by name) so the motion metrics compute,
    and each camera as wrist/exterior RGB by its name."""
    features: dict[str, Any] = _info(root).get("features", {})
    cameras = [k for k, v in features.items() if v.get("dtype") == "video"]
    args = ["--profile", "vision-imitation-v1", "--full-frame-scan"] if cameras else []
    if "observation.state" in features:
        args += ["--map", "observation.state=proprio.joint_position"]
    for cam in cameras:
        args += ["--map", f"{cam}=extero.{'wrist' if 'wrist' in cam else 'exterior'}_rgb"]
    return args


def run_kalanos(root: Path, venv: Path, timeout_s: float | None = None) -> dict[int, PeerResult]:
    """kalanos `grade`: score = episode score (0-100, policy-weighted over the graded families) / 100;
    flagged = eligibility 'blocked' or 'review' ('unknown' = evidence missing, not flagged); reasons =
    metric ids of its findings (warning/critical) in the episode, plus eligibility reason ids."""
    timeout = timeout_s or _timeout(root, 6.0, 300.0)
    with tempfile.TemporaryDirectory(prefix="peer_kalanos_") as tmp:
        out = Path(tmp) / "kalanos.json"
        cmd = [str(venv / "bin" / "kalanos"), "grade", str(root), "--report", str(out), "--no-color"]
        cmd += ["--no-sidecar", "--fail-on", "blocked", *_kalanos_args(root)]
        stderr = _run(cmd, timeout, Path(tmp))
        report = _read_report(out, stderr)
    issues: dict[str, list[tuple[str, str]]] = {}
    for f in report.get("findings", []):
        issues.setdefault(f["episode_id"], []).append((f["metric_id"], f["severity"]))
    results: dict[int, PeerResult] = {}
    for e in report.get("episodes", []):
        worst = _worst(issues.get(e["id"], []))
        eligibility = e.get("eligibility") or {}
        status = eligibility.get("status", "unknown")
        codes = set(worst)
        if status != "pass":
            codes |= {f"{status}:{r['id']}" for r in eligibility.get("reasons", [])}
        native = (e.get("score") or {}).get("score")
        score = float(native) / 100.0 if native is not None else issue_score(worst)
        results[_episode_number(e["id"])] = PeerResult(
            score, status in ("blocked", "review"), tuple(sorted(codes))
        )
    return results


# --- deepen-grade -----------------------------------------------------------------------------------


def run_deepen_grade(root: Path, venv: Path, timeout_s: float | None = None) -> dict[int, PeerResult]:
    """deepen-grade `grade --json`: its per-episode letter/score count DEFECT checks only (dropped
    samples, schema/dim mismatch), so score = issue_score over every per-episode check that warns or
    fails, DEFECT and RISK alike (idle/stall, LDJ jerk, joint-limit saturation, gripper chatter,
    action-state consistency, cross-modal skew, cross-episode trajectory/endpoint/duplicates);
    flagged = any of them 'fail'; reasons = their check ids."""
    timeout = timeout_s or _timeout(root, 1.0, 120.0)
    with tempfile.TemporaryDirectory(prefix="peer_deepen_") as tmp:
        out = Path(tmp) / "deepen.json"
        cmd = [str(venv / "bin" / "deepen"), "grade", str(root), "--format", "lerobot", "--json"]
        stderr = _run([*cmd, "--quiet", "-o", str(out)], timeout, Path(tmp))
        report = _read_report(out, stderr)
    if report.get("partial"):
        raise PeerError("report is partial: the run did not finish")
    results: dict[int, PeerResult] = {}
    for e in report.get("episodes", []):
        worst = _worst(
            (c["check_id"], c["severity"]) for c in e.get("checks", []) if c["severity"] in ("warn", "fail")
        )
        results[_episode_number(e["episode_id"])] = PeerResult(
            issue_score(worst), "fail" in worst.values(), tuple(sorted(worst))
        )
    return results


# --- lerobot-lint -----------------------------------------------------------------------------------

# lelint's CLI, with torchvision stubbed when it does not import (see the module docstring).
_LELINT_MAIN = """
import importlib.machinery, sys, types
try:
    import torchvision
except Exception:
    for name in ("torchvision", "torchvision.transforms"):
        stub = types.ModuleType(name)
        stub.__spec__ = importlib.machinery.ModuleSpec(name, None)
        stub.__path__ = []
        sys.modules[name] = stub
    sys.modules["torchvision"].transforms = sys.modules["torchvision.transforms"]
sys.argv[0] = "lelint"
from lerobot_lint.cli import app
app()
"""


def run_lerobot_lint(root: Path, venv: Path, timeout_s: float | None = None) -> dict[int, PeerResult]:
    """lerobot-lint `check --json`: score = issue_score over the episode's finding codes; flagged = a
    severity 'error' finding (lelint's own exit-code contract). Run with --units radians (its auto
    inference reads our 0-255 gripper command as degrees) and --no-video (0.1.1's loader never fills
    the camera samples, so its video checks cannot fire). '*_CRASHED' findings (a check that raised,
    e.g. ACTION_STATE_DIVERGENCE on a 4-D action vs an 18-D state) are the checker's failure, not the
    episode's: left out of score, flag and reasons. Dataset-level findings carry no episode: dropped."""
    info = _info(root)
    timeout = timeout_s or _timeout(root, 3.0, 300.0)
    with tempfile.TemporaryDirectory(prefix="peer_lelint_") as tmp:
        out = Path(tmp) / "lelint.json"
        cmd = [str(venv / "bin" / "python"), "-c", _LELINT_MAIN, "check", str(root)]
        stderr = _run([*cmd, "--units", "radians", "--no-video", "--json", str(out)], timeout, Path(tmp))
        report = _read_report(out, stderr)
    issues: dict[int, list[tuple[str, str]]] = {ep: [] for ep in range(int(info["total_episodes"]))}
    for f in report.get("findings", []):
        if f.get("episode") is not None and not f["check"].endswith("_CRASHED"):
            issues.setdefault(int(f["episode"]), []).append((f["check"], f["severity"]))
    results: dict[int, PeerResult] = {}
    for ep, found in issues.items():
        worst = _worst(found)
        results[ep] = PeerResult(issue_score(worst), "fail" in worst.values(), tuple(sorted(worst)))
    return results


PEERS: dict[str, Peer] = {
    "lerobot_doctor": run_lerobot_doctor,
    "kalanos": run_kalanos,
    "deepen_grade": run_deepen_grade,
    "lerobot_lint": run_lerobot_lint,
}


def run_all(
    root: Path, venv: Path = DEFAULT_VENV, only: tuple[str, ...] | None = None
) -> dict[str, dict[int, PeerResult] | str]:
    """Every peer (or `only` these) on `root`: its per-episode results, or one line saying why there
    are none."""
    out: dict[str, dict[int, PeerResult] | str] = {}
    root = root.resolve()  # the peers run from a temporary working directory
    for name, peer in PEERS.items():
        if only is not None and name not in only:
            continue
        try:
            results = peer(root, venv)
            out[name] = results if results else "no per-episode result in its report"
        except PeerError as e:
            out[name] = str(e)
        except Exception as e:  # a report shape we did not expect: still one line, never a raise
            out[name] = f"{type(e).__name__}: {e}".splitlines()[0][:240]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a local LeRobot v3.0 dataset directory")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--only", choices=sorted(PEERS), action="append", help="run only these peers")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()
    args.root = args.root.resolve()  # the peers run from a temporary working directory
    dump: dict[str, Any] = {}
    for name in args.only or list(PEERS):
        t0 = time.perf_counter()
        try:
            res: dict[int, PeerResult] | str = PEERS[name](args.root, args.venv) or "no per-episode result"
        except Exception as e:
            res = f"{type(e).__name__}: {e}".splitlines()[0][:240]
        dt = time.perf_counter() - t0
        if isinstance(res, str):
            print(f"{name:15s} failed after {dt:.1f} s: {res}")
            dump[name] = res
            continue
        n, flagged = len(res), sum(r.flagged for r in res.values())
        mean = sum(r.score for r in res.values()) / n
        print(f"{name:15s} {n} episodes, {flagged} flagged, mean score {mean:.3f}, {dt / n:.3f} s/episode")
        dump[name] = {ep: [r.score, r.flagged, r.reasons] for ep, r in res.items()}
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
