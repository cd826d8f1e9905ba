"""The README's MNIST example runs as printed and reaches the accuracy it claims."""
import contextlib
import io
import re

import pytest

from conftest import REPO


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_readme_mnist_example_reaches_97_percent(shared_data_dir, monkeypatch):
    monkeypatch.setenv("OPTLIB_DATA", str(shared_data_dir))
    example = next(b for b in _python_blocks((REPO / "README.md").read_text()) if "load_mnist" in b)
    assert len([line for line in example.splitlines() if line.strip()]) <= 10
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["history"].test_acc[-1] >= 0.97
    assert "test accuracy after 3 epochs: 97." in out.getvalue()
