"""Serve MathJax 3 from the built book instead of a CDN.

Sphinx (and so Jupyter Book) loads MathJax from jsDelivr by default, which a
reader without internet, and our CI, cannot reach. The PyPI package
``django-static-mathjax`` (listed in requirements.txt) ships MathJax 3.2.2 as
plain files; its import package is ``mathjax`` and the browser-ready build sits
in ``mathjax/static/mathjax/es5/``.

This extension

1. sets ``mathjax_path`` to ``mathjax/tex-chtml.js``, a path relative to the
   build's ``_static/`` folder, so every page loads MathJax from the book itself;
2. after an HTML build, copies the parts of ``es5/`` that page can request into
   ``_static/mathjax/``: the combined TeX-to-CommonHTML component, the TeX
   extensions that ``autoload``/``\\require`` fetch on demand, the CommonHTML
   web fonts, the context menu and its accessibility components, and the
   MathJax licence.

Load it from ``_config.yml``::

    sphinx:
      local_extensions:
        offline_mathjax: book/_ext
"""
from __future__ import annotations

import importlib.util
import pathlib
import shutil
from typing import Any

#: The MathJax entry point, relative to ``_static/`` of the built HTML.
MATHJAX_ENTRY = "mathjax/tex-chtml.js"

#: Folder (relative to the build's ``_static/``) that receives the copy.
TARGET_SUBDIR = "mathjax"

#: What a page can load, relative to ``es5/``. tex-chtml.js bundles the core,
#: the TeX input with its default packages and the CHTML output; the rest is
#: fetched lazily: TeX extensions (autoload, \require), fonts, the right-click
#: menu (ui/) and the accessibility tools the menu can switch on (a11y/, sre/).
COMPONENTS = (
    "tex-chtml.js",
    "input/tex/extensions",
    "output/chtml/fonts/woff-v2",
    "ui",
    "a11y",
    "sre",
)

PACKAGE_HINT = (
    "install it with `pip install django-static-mathjax==3.2.2.1` "
    "(it is listed in requirements.txt)"
)


class MathJaxNotFound(RuntimeError):
    """The ``mathjax`` package (django-static-mathjax) is missing or incomplete."""


def find_mathjax_es5() -> pathlib.Path:
    """Return the ``es5/`` folder of the installed ``mathjax`` package.

    Raises
    ------
    MathJaxNotFound
        If the package is not importable or has no ``es5/tex-chtml.js``.
    """
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise MathJaxNotFound(
            "offline_mathjax: the Python package 'mathjax' was not found; " + PACKAGE_HINT
        )
    package_dir = pathlib.Path(next(iter(spec.submodule_search_locations)))
    es5 = package_dir / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise MathJaxNotFound(
            f"offline_mathjax: {es5 / 'tex-chtml.js'} does not exist; the 'mathjax' "
            f"package at {package_dir} is not django-static-mathjax 3.x; " + PACKAGE_HINT
        )
    return es5


def copy_mathjax(es5: pathlib.Path, target: pathlib.Path) -> list[pathlib.Path]:
    """Copy :data:`COMPONENTS` (and the licence) from ``es5`` into ``target``.

    Files that already exist with the same size and modification time are left
    alone, so rebuilding the book does not rewrite 8 MB every time.

    Returns
    -------
    list of pathlib.Path
        The top-level paths written into ``target``.
    """
    written = []
    for component in COMPONENTS:
        source = es5 / component
        if not source.exists():
            raise MathJaxNotFound(f"offline_mathjax: {source} is missing; " + PACKAGE_HINT)
        destination = target / component
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True, copy_function=_copy_if_changed)
        else:
            _copy_if_changed(source, destination)
        written.append(destination)
    # MathJax is Apache-2.0 licensed: redistributing it means shipping the licence.
    licence = es5.parent / "LICENSE"
    if licence.is_file():
        _copy_if_changed(licence, target / "LICENSE")
        written.append(target / "LICENSE")
    return written


def _copy_if_changed(source: str | pathlib.Path, destination: str | pathlib.Path) -> str:
    src, dst = pathlib.Path(source), pathlib.Path(destination)
    if dst.is_file():
        s, d = src.stat(), dst.stat()
        if s.st_size == d.st_size and int(s.st_mtime) == int(d.st_mtime):
            return str(dst)
    shutil.copy2(src, dst)
    return str(dst)


def _use_local_mathjax(app: Any, config: Any) -> None:
    find_mathjax_es5()  # fail at startup, with a clear message, not after the build
    config.mathjax_path = MATHJAX_ENTRY


def _copy_after_build(app: Any, exception: Exception | None) -> None:
    if exception is not None or getattr(app.builder, "format", None) != "html":
        return
    target = pathlib.Path(app.outdir) / "_static" / TARGET_SUBDIR
    copy_mathjax(find_mathjax_es5(), target)


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.setup_extension("sphinx.ext.mathjax")
    # priority > 500 so this runs after Jupyter Book has applied _config.yml
    app.connect("config-inited", _use_local_mathjax, priority=900)
    app.connect("build-finished", _copy_after_build)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
