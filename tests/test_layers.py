"""The package's rooms import only rooms above them in ARCHITECTURE.md's table, so each layer can be
understood, tested and replaced without the ones that use it (quality without the sim or controllers,
the dataset without anything that records)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sim_teleop

PACKAGE = Path(sim_teleop.__file__).parent
ARCHITECTURE = PACKAGE.parents[1] / "ARCHITECTURE.md"


def rooms_in_order() -> list[str]:
    """The rooms as ARCHITECTURE.md lists them (`messages.py` -> `messages`, `dataset/` -> `dataset`)."""
    rows = re.findall(r"^\| `([a-z_]+)(?:\.py|/)` \|", ARCHITECTURE.read_text(), flags=re.MULTILINE)
    return rows


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
    return names


def upward_imports(package: Path, order: list[str]) -> list[str]:
    """`file: module` for every import of a room listed below the importing file's own room."""
    found = []
    for path in sorted(package.rglob("*.py")):
        own = path.relative_to(package).with_suffix("").parts[0]
        if own == "__init__":
            continue
        for name in sorted(imported_modules(path)):
            parts = name.split(".")
            if parts[0] != package.name or len(parts) < 2 or parts[1] == own:
                continue
            if order.index(parts[1]) > order.index(own):
                found.append(f"{path.relative_to(package)}: {name}")
    return found


def test_architecture_lists_every_room() -> None:
    rooms = {p.stem for p in PACKAGE.glob("*.py")} | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    listed = rooms_in_order()
    assert len(listed) == len(set(listed))
    assert sorted(rooms - {"__init__"}) == sorted(listed)


def test_imports_only_point_up_the_table() -> None:
    assert upward_imports(PACKAGE, rooms_in_order()) == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    package = tmp_path / "sim_teleop"
    (package / "quality").mkdir(parents=True)
    (package / "quality" / "m.py").write_text("def f():\n    from sim_teleop.control.expert import X\n")
    (package / "control").mkdir()
    (package / "control" / "e.py").write_text("from sim_teleop.quality.m import f\n")
    assert upward_imports(package, ["quality", "control"]) == ["quality/m.py: sim_teleop.control.expert"]


def test_the_product_never_imports_benchmark_code() -> None:
    bench = PACKAGE.parent / "sim_teleop_bench"
    assert bench.is_dir()
    offending = [
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] == bench.name
    ]
    assert offending == []
