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
