"""The chapters' Colab install cell, run in a fresh virtual environment that already has torch (as Colab
does): it installs the package and keeps the preinstalled torch and torchvision."""

import json
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import torch
import torchvision

ROOT = Path(__file__).resolve().parents[1]


def install_command() -> str:
    """The pip requirement of the install cell of chapter 00 (every chapter has the same cell; a book test
    checks the URL is the same everywhere)."""
    cell = "".join(json.loads((ROOT / "notebooks" / "00_getting_started.ipynb").read_text())["cells"][1]["source"])
    found = re.search(r'%pip install -q "([^"]+)"', cell)
    assert found, f"no %pip install line in the install cell:\n{cell}"
    return found.group(1)


@pytest.mark.book
@pytest.mark.slow
def test_the_install_cell_keeps_the_preinstalled_torch(tmp_path):
    requirement = install_command()
    assert requirement.startswith("gancourse[mnist5k] @ git+https://")
    environment = tmp_path / "colab"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # Colab's preinstalled packages: this test environment's, visible through a .pth file
    preinstalled = [path for path in sys.path if path.endswith("site-packages") and Path(path, "torch").is_dir()]
    Path(site, "colab_preinstalled.pth").write_text("\n".join(preinstalled) + "\n")
    local = requirement.split(" @ ")[0] + f" @ file://{ROOT}"   # the repository itself instead of GitHub
    result = subprocess.run([python, "-m", "pip", "install", "-q", local], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    check = subprocess.run(
        [python, "-c", "import torch, torchvision, gancourse.runtime as r; "
                       "print(torch.__version__, torchvision.__version__, torch.__file__); "
                       "r.start_chapter('smoke', 'mnist5k', 0)"],
        capture_output=True, text=True, cwd=tmp_path)
    assert check.returncode == 0, check.stderr[-3000:]
    version, vision, location = check.stdout.split()[:3]
    assert (version, vision) == (torch.__version__, torchvision.__version__)
    assert not location.startswith(str(environment)), "pip replaced the preinstalled torch"
    assert "profile smoke" in check.stdout
