"""Re-read (and so re-execute) every page on every build.

Sphinx builds incrementally: a page whose source did not change is not read
again, so its notebook is not executed again even with
``execute_notebooks: force``, and the warnings it raised last time are not
raised again. Two consequences would break the book's guarantees:

- ``make book`` after a failed build exits 0 although the chapter is still
  broken (the failing notebook is not re-executed, so ``-W`` has nothing to
  fail on);
- a change in ``optlib`` never reaches the pages whose notebooks did not
  change.

Every chapter runs within the time budget anyway, so this extension marks
every document as outdated whenever notebooks are executed in ``force`` mode.

Load it from ``_config.yml``::

    sphinx:
      local_extensions:
        full_rebuild: book/_ext
"""
from __future__ import annotations

from typing import Any


def _everything(app: Any, env: Any, added: set[str], changed: set[str],
                removed: set[str]) -> list[str]:
    if app.config["nb_execution_mode"] != "force":
        return []
    return sorted(set(env.found_docs) - set(added) - set(changed) - set(removed))


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.connect("env-get-outdated", _everything)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
