"""`./run setup` keeps a working .venv: uv replaced it whenever UV_PYTHON named the same Python by
another path (a pyenv shim), under every dataflow running from the checkout at that moment.

Each test works on a copy of the project in tmp (never the checkout's own .venv) with a venv made by
`uv sync --frozen` offline, from uv's cache; it is skipped where that cannot be built.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow
PROJECT_FILES = ("run", "pyproject.toml", "uv.lock", ".python-version", "README.md")


def _apt_packages_installed() -> bool:
    """`./run` installs missing Debian packages first (sudo apt-get): not in a test."""
    found = re.search(r"APT_PACKAGES=\(([^)]*)\)", (REPO / "run").read_text())
    if found is None or shutil.which("dpkg") is None:
        return False
    return all(
        subprocess.run(["dpkg", "-s", pkg], capture_output=True).returncode == 0
        for pkg in found.group(1).split()
    )


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("UV_PYTHON", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    # No bytecode compiled into the copy's venv: what these tests check is whether the venv is kept.
    return {**env, "UV_OFFLINE": "1", "UV_COMPILE_BYTECODE": "0", **extra}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project whose .venv was made by a plain `uv sync --frozen`."""
    if shutil.which("uv") is None or not _apt_packages_installed():
        pytest.skip("needs uv and the Debian packages ./run installs")
    root = tmp_path / "project"
    root.mkdir()
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    made = subprocess.run(
        ["uv", "sync", "--frozen", "--quiet"], cwd=root, env=_env(), capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"no offline venv here: {made.stderr.strip()[-300:]}")
    return root


def _shim(project: Path, tmp_path: Path) -> Path:
    """A wrapper script that runs the venv's base interpreter, as a pyenv shim does."""
    base = subprocess.run(
        [str(project / ".venv/bin/python"), "-c", "import sys; print(sys._base_executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shim = tmp_path / "shims" / "python3.12"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{base}" "$@"\n')
    shim.chmod(0o755)
    return shim


def _setup(project: Path, **env: str) -> str:
    done = subprocess.run(
        ["./run", "setup"], cwd=project, env=_env(**env), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_setup_keeps_a_working_venv_when_uv_python_names_a_shim(project: Path, tmp_path: Path) -> None:
    shim = _shim(project, tmp_path)
    sentinel = project / ".venv" / "sentinel"
    sentinel.touch()
    python_inode = (project / ".venv/bin/python").lstat().st_ino
    for env in ({"UV_PYTHON": str(shim)}, {"UV_PYTHON": str(shim)}, {}):
        output = _setup(project, **env)
        assert "Removed virtual environment" not in output
        assert sentinel.exists(), f".venv was recreated (UV_PYTHON={env.get('UV_PYTHON')})"
    assert (project / ".venv/bin/python").lstat().st_ino == python_inode
    check = subprocess.run(
        ["uv", "sync", "--frozen", "--check"], cwd=project, env=_env(), capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr  # nothing left to install: the next sync is a no-op


def test_a_venv_made_through_a_shim_survives_a_plain_sync(project: Path, tmp_path: Path) -> None:
    """A missing .venv is made with the interpreter the shim runs, not the shim's path."""
    shim = _shim(project, tmp_path)
    shutil.rmtree(project / ".venv")
    _setup(project, UV_PYTHON=str(shim))
    sentinel = project / ".venv" / "sentinel"
    sentinel.touch()
    subprocess.run(["uv", "sync", "--frozen", "--quiet"], cwd=project, env=_env(), check=True)
    _setup(project)
    assert sentinel.exists()
