"""Shared fixtures: the optional torch oracle and the data folder."""
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def python_stdout(code: str) -> str:
    """Run ``code`` in a fresh interpreter (a clean ``sys.modules``); its stdout, stripped."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="session")
def torch():
    """torch as an independent oracle; the test skips where it is not installed."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture(scope="session")
def shared_data_dir():
    """The folder that holds mnist/ and fashion-mnist/ (``OPTLIB_DATA``), or skip."""
    root = os.environ.get("OPTLIB_DATA")
    candidates = [pathlib.Path(root)] if root else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if (c / "mnist" / "train-images-idx3-ubyte.gz").exists():
            return c
    pytest.skip("MNIST files not found: set OPTLIB_DATA to a folder holding mnist/")
