"""quality/ scores recorded frames only: it must not depend on the controllers or the sim."""

from __future__ import annotations

import ast
from pathlib import Path

import sim_teleop.quality

FORBIDDEN = ("sim_teleop.control", "sim_teleop.sim")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_quality_imports_neither_the_controllers_nor_the_sim() -> None:
    package = Path(sim_teleop.quality.__file__).parent
    offending = {
        f"{path.name}: {name}"
        for path in sorted(package.glob("*.py"))
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not offending


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from sim_teleop.control.expert import ScriptedExpert\n")
    assert "sim_teleop.control.expert" in imported_modules(module)
