"""Stop each chapter's kernel at once when its last cell has run.

myst-nb executes a chapter with ``nbclient``, which by default asks the
kernel to shut down and waits for it. On a loaded two-core machine that
graceful shutdown was seen to go unanswered: every cell had run, the kernel
sat idle, and the build waited for minutes. Nothing is left to save once the
last output has arrived, so the kernel is stopped immediately instead, as
``book/_scripts/chapter_times.py`` does.

Load it from ``_config.yml``::

    sphinx:
      local_extensions:
        kernel_shutdown: book/_ext
"""
from __future__ import annotations

from typing import Any


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: make "immediate" nbclient's default shutdown."""
    from nbclient import NotebookClient

    NotebookClient.class_traits()["shutdown_kernel"].default_value = "immediate"
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
