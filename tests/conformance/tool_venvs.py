"""Virtual environments for the SpaceONE tools the interoperability tests run.

spaceone-core and spacectl pin their own grpcio and protobuf, which clash with the suite's,
so each tool gets a virtual environment of its own under `target/` (or under
`SPACEID_TOOL_VENVS`). A venv is made once and reused while its requirement list is
unchanged: the list is written to `.requirements` inside it after a successful install, so a
half-finished install is redone on the next run.

The builds a session needs start in the background as soon as the tests are collected
(`start`), so they run side by side and alongside the rest of the suite; a test waits for its
own with `wait`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SECONDS = 1800

# name -> pip requirements. spacectl does not pin spaceone-core, so each spacectl venv names
# the package that decides how it finds the API's messages.
VENVS: dict[str, list[str]] = {
    # A SpaceONE service's own authentication handler (it brings jwcrypto, used to sign).
    "spaceone-core-venv": ["spaceone-core==2.0.144"],
    # spacectl with the message classes of the published API package of our generation.
    "spacectl-api-venv": ["spacectl==2.0.10", "spaceone-api==2.0.300"],
    # spacectl that learns every message through server reflection.
    "spacectl-reflection-venv": ["spacectl==2.0.10", "spaceone-core==2.0.144"],
}

_pool = ThreadPoolExecutor(max_workers=len(VENVS), thread_name_prefix="tool-venv")
_builds: dict[str, Future] = {}
_lock = threading.Lock()


def root() -> Path:
    return Path(os.environ.get("SPACEID_TOOL_VENVS", REPO_ROOT / "target"))


def path(name: str) -> Path:
    return root() / name


def bin_path(name: str, program: str) -> Path:
    return path(name) / "bin" / program


class VenvError(RuntimeError):
    pass


def _build(name: str) -> Path:
    venv = path(name)
    wanted = "\n".join(VENVS[name]) + "\n"
    stamp = venv / ".requirements"
    root().mkdir(parents=True, exist_ok=True)
    # One builder per venv, also across concurrent pytest sessions on the same tree.
    with open(root() / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == wanted and (venv / "bin" / "python").exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        python = os.environ.get("PYTHON", "python3")
        steps = [
            [python, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", *VENVS[name]],
        ]
        env = {key: value for key, value in os.environ.items()
               if key not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH")}
        for step in steps:
            try:
                done = subprocess.run(step, capture_output=True, text=True, env=env,
                                      timeout=INSTALL_SECONDS)
            except subprocess.TimeoutExpired:
                raise VenvError(f"{name}: `{' '.join(step)}` took over {INSTALL_SECONDS} s")
            if done.returncode != 0:
                raise VenvError(f"{name}: `{' '.join(step)}` exited {done.returncode}\n"
                                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        stamp.write_text(wanted)
        return venv


def start(names) -> None:
    """Starts building the named venvs that are not already being built."""
    with _lock:
        for name in names:
            if name not in _builds:
                _builds[name] = _pool.submit(_build, name)


def wait(name: str) -> Path:
    """The venv, once built; fails the calling test if it cannot be built."""
    import pytest

    start([name])
    try:
        return _builds[name].result()
    except VenvError as error:
        pytest.fail(str(error), pytrace=False)


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a tool's process: without the suite's venv and Python settings."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(part for part in env.get("PATH", "").split(os.pathsep)
                                  if part != venv_bin)
    env.update(extra or {})
    return env
