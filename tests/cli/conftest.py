import os
import subprocess
import sys
from pathlib import Path

import pytest

LSTUI = [sys.executable, "-m", "lstui.cli"]


def run_lstui(*args: str, home: Path | None = None, cwd: Path | None = None, timeout: float = 300,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `lstui` command line in a subprocess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if home is not None:
        full_env["LSTUI_HOME"] = str(home)
    return subprocess.run(
        [*LSTUI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=full_env
    )


@pytest.fixture
def lstui_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    return home
