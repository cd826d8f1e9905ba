"""Keep notebook outputs from loading anything off the network.

The book must work offline (and CI has no network), but some HTML that
notebooks display pulls files from CDNs. This extension looks at every raw
HTML node of every page after the build has resolved it and

- removes the Font Awesome 4 stylesheet that matplotlib's JavaScript
  animations (``Animation.to_jshtml``, used by ``optlib.plot.animate``) load
  from maxcdn: the book's theme already ships Font Awesome, whose ``fa``
  classes draw the animation's buttons;
- warns about any other ``<script src>``, ``<link href>``, ``<img src>`` or
  ``<iframe src>`` that points at another host, so that ``-W`` fails the build
  and names the page, instead of the reader finding a broken output.

Load it from ``_config.yml``::

    sphinx:
      local_extensions:
        offline_outputs: book/_ext
"""
from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Stylesheets that are dropped because the theme provides the same thing.
REDUNDANT_STYLESHEET = re.compile(
    r"<link\b[^>]*href=[\"'](?:https?:)?//maxcdn\.bootstrapcdn\.com/font-awesome/[^\"']*[\"'][^>]*>\s*",
    re.IGNORECASE,
)

#: A tag that makes the browser fetch a file from another host.
REMOTE_RESOURCE = re.compile(
    r"<(?:script|img|iframe|source|video|audio)\b[^>]*\bsrc=[\"']((?:https?:)?//[^\"']+)[\"']"
    r"|<link\b[^>]*\bhref=[\"']((?:https?:)?//[^\"']+)[\"']",
    re.IGNORECASE,
)


def strip_redundant(html: str) -> str:
    """``html`` without the stylesheets listed in :data:`REDUNDANT_STYLESHEET`."""
    return REDUNDANT_STYLESHEET.sub("", html)


def remote_resources(html: str) -> list[str]:
    """The URLs of files on other hosts that ``html`` would make a browser load."""
    return [a or b for a, b in REMOTE_RESOURCE.findall(html)]


def _clean_page(app: Any, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(nodes.raw)):
        if "html" not in node.get("format", "").split():
            continue
        html = node.astext()
        cleaned = strip_redundant(html)
        for url in remote_resources(cleaned):
            logger.warning(
                "a notebook output loads %s from the network, which readers of the offline "
                "book (and CI) cannot reach; bundle the file or do not display it", url,
                location=node, type="offline_outputs", subtype="remote")
        if cleaned != html:
            replacement = nodes.raw("", cleaned, **{k: v for k, v in node.attributes.items()
                                                     if k not in ("ids", "backrefs", "dupnames", "names")})
            node.replace_self(replacement)


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    app.connect("doctree-resolved", _clean_page)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
