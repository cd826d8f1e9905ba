"""Drop repeated ``<script>`` entries from every HTML page.

sphinx-thebe 0.3 (loaded by Jupyter Book 1 even with ``thebe: false``)
registers its inline configuration script, ``const THEBE_JS_URL = ...``, both
with the application and with the already-initialised HTML builder, so under
Sphinx 7 each page declares the same ``const`` twice: a JavaScript
``SyntaxError`` on every page of the book. This extension removes
entries that would produce the same tag (same file or inline body, same
attributes) and keeps the first occurrence, so the order of everything else is
unchanged.

Load it from ``_config.yml``::

    sphinx:
      local_extensions:
        unique_scripts: book/_ext
"""
from __future__ import annotations

from typing import Any


def script_key(script: Any) -> tuple:
    """What makes two script entries the same tag.

    Sphinx stores an inline script's filename as None when it comes from the
    application and as '' when it comes from the builder; both mean "no src".
    """
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""
    return (str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def unique(scripts: list[Any]) -> list[Any]:
    """The scripts in their first-seen order, without repeated tags."""
    seen: dict[tuple, Any] = {}
    for script in scripts:
        seen.setdefault(script_key(script), script)
    return list(seen.values())


def _drop_repeated_scripts(app: Any, pagename: str, templatename: str,
                           context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        # in place: the list is the builder's, reset from its original for every page
        scripts[:] = unique(scripts)


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    # late priority: run after every extension has added its page scripts
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
