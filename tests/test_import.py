"""``import optlib`` needs numpy alone: the optional packages load only when used."""
from conftest import python_stdout

OPTIONAL = ("matplotlib", "ipywidgets", "tqdm", "numba", "threadpoolctl", "torch", "IPython")


def test_import_optlib_loads_no_optional_package():
    code = (
        "import sys, optlib\n"
        f"loaded = sorted(m for m in {OPTIONAL!r} if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    assert python_stdout(code) == ""


def test_public_names_are_exported():
    import optlib

    for name in optlib.__all__:
        assert hasattr(optlib, name), name


def _optlib_imports(path):
    """Every optlib module a source file imports, at the top or inside a function."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "optlib"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "optlib":
                found |= {f"optlib.{a.name}" for a in node.names}
            elif node.module.startswith("optlib."):
                found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            found |= {f"optlib.{node.module or a.name}" for a in node.names}
    return found


def test_the_kernels_do_not_import_the_optimizers():
    # optimizers -> fused only: an optimizer names its kernel, fused keeps no class list
    import pathlib
    optlib_dir = pathlib.Path(__file__).resolve().parents[1] / "optlib"
    assert _optlib_imports(optlib_dir / "fused.py") == set()
    assert "optlib.fused" in _optlib_imports(optlib_dir / "optimizers.py")


def test_the_kernels_load_and_dispatch_without_optlib():
    # fused.py executed on its own, with every optlib import blocked, still
    # finds the kernel a class names and runs it
    import importlib.util
    import pytest
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed")
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "optlib" / "fused.py"
    code = (
        "import importlib.util, sys, numpy as np\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'optlib':\n"
        "            raise ImportError('optlib is blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"spec = importlib.util.spec_from_file_location('fused_alone', {str(path)!r})\n"
        "fused = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(fused)\n"
        "class Plain:\n"
        "    fused_kernel = 'sgd'\n"
        "    weight_decay = 0.0\n"
        "class Child(Plain):\n"
        "    pass\n"
        "p = np.ones(4, dtype=np.float32)\n"
        "fused.update(Plain(), p, np.full(4, 2.0, np.float32), {}, 0.25, 1)\n"
        "print(fused.has_kernel(Plain), fused.has_kernel(Child), p.tolist(),\n"
        "      sorted(m for m in sys.modules if m.startswith('optlib')))\n"
    )
    import os
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        # the kernels run as plain Python (no compilation), and nothing this copy
        # of the module could write goes into the real module's numba cache
        env = dict(os.environ, NUMBA_DISABLE_JIT="1", NUMBA_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True False [0.5, 0.5, 0.5, 0.5] []"
