"""Write a dataflow for dora's multi-machine deployment (`dora start`): nodes pinned to machine ids.

    python scripts/deploy_flow.py dataflow-autopilot.yaml --machine A --output out/autopilot-A.yaml \
        --set SIM_SEED=500 --set RECORD_ROOT=outputs/autopilot/part-A
    python scripts/deploy_flow.py dataflow-eval.yaml --machine A --on policy=GPU --output out/eval.yaml

Why: dora 1.1 places a node with a per-node `deploy: {machine: ID}`, runs deployed nodes in the
daemon's `_work/<session>` directory (so every `path:` must be absolute: a file is resolved next to the
dataflow, a node command in this environment), and `dora run` refuses such a file, so the deployable
copy is generated from the plain one. Each node's `deploy.working_dir` is the dataflow's directory, so
relative paths in its env resolve as under `dora run`. `--set K=V` adds an env entry to every node
(nodes of `dora start` inherit the daemon's environment, and `dora start --env` refuses numbers) and
fills the YAML's own `${K}` / `${K:-default}` values with V: dora expands those from the environment of
the `dora start` caller, not from the nodes' env (measured: with only `--set AUTOPILOT_TICK_MS=60` the
clock ticked at 100 ms while the expert assumed 60). On real separate machines the repository and its
environment must be at the same absolute path on each machine (or edit the generated paths).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import yaml


def deploy(flow: dict, base: Path, machine: str, on: dict[str, str], env: dict[str, str]) -> dict:
    """A copy of `flow` (a parsed dataflow YAML) with absolute node paths, machines and env set."""
    nodes = []
    for node in flow.get("nodes", []):
        node = dict(node)
        path = node.get("path")
        if isinstance(path, str) and not path.startswith("dora/") and not Path(path).is_absolute():
            node["path"] = _absolute(path, base)
        # working_dir: relative paths in the nodes' env (configs/..., outputs/...) mean what they mean
        # under `dora run`, instead of the daemon's `_work/<session>`
        node["deploy"] = {"machine": on.get(node["id"], machine), "working_dir": str(base.resolve())}
        if env:
            own = {k: fill_vars(v, env) for k, v in (node.get("env") or {}).items()}
            node["env"] = {**own, **env}
        nodes.append(node)
    unknown = set(on) - {n["id"] for n in nodes}
    if unknown:
        raise ValueError(f"--on names nodes that are not in the dataflow: {sorted(unknown)}")
    return {**flow, "nodes": nodes}


_VAR = re.compile(r"\$\{(\w+)(:-[^}]*)?\}|\$(\w+)")


def fill_vars(value: object, env: dict[str, str]) -> object:
    """`value` with each `${K}`, `${K:-default}` or `$K` whose K is in `env` replaced by env[K]; other
    variables are left for dora to expand."""
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        key = m.group(1) or m.group(3)
        return env[key] if key in env else m.group(0)

    return _VAR.sub(one, value)


def _absolute(path: str, base: Path) -> str:
    """A file next to the dataflow, or a command (a node's entry point) as this environment finds it."""
    if (base / path).exists():
        return str((base / path).resolve())
    return shutil.which(path) or path


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("flow", type=Path)
    ap.add_argument("--machine", required=True, help="machine id of every node not named by --on")
    ap.add_argument("--on", action="append", default=[], metavar="NODE=MACHINE")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="env for every node")
    ap.add_argument("--output", required=True, type=Path)
    args = ap.parse_args(argv)
    try:
        flow = yaml.safe_load(args.flow.read_text())
        out = deploy(
            flow, args.flow.resolve().parent, args.machine, _pairs(args.on, "--on"), _pairs(args.set, "--set")
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(yaml.safe_dump(out, sort_keys=False, default_style=None))
    machines = sorted({n["deploy"]["machine"] for n in out["nodes"]})
    print(f"wrote {args.output}: {len(out['nodes'])} nodes on machine(s) {', '.join(machines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
