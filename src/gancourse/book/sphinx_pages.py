"""A Sphinx extension of the book (listed in ``_config.yml``'s ``extra_extensions``): pages without
JavaScript errors, whose Colab button opens the plain Jupyter edition. Applied just before each page is
written; the first two fixes the browser test found:

* Jupyter Book 1 adds sphinx-thebe's inline configuration script (``const THEBE_JS_URL = ...``) twice, and a
  ``const`` declared twice is an error on every page: identical script entries are dropped, the first kept;
* the theme's colour mode is left empty, which its script reports as an error on a reader's first visit:
  it is set to ``auto`` (follow the reader's system) when no mode is given;
* the theme's Colab button opens the page's executed copy (``book/chapters/NN.ipynb``), whose MyST Colab
  shows as source text: it is pointed at the same chapter in the reader edition (``colab/NN.ipynb``,
  :mod:`gancourse.book.editions`).
"""

from __future__ import annotations

import re
from typing import Any

COLAB_CHAPTER = re.compile(r"^(https://colab\.research\.google\.com/github/.+?/blob/[^/]+/)book/chapters/([^/]+\.ipynb)$")


def unique_scripts(scripts: list[Any]) -> list[Any]:
    """``scripts`` without repeats (same file and attributes, e.g. the same inline body; an inline script's
    file may be ``None`` or ``""``, and the priority, which only orders them, is ignored)."""
    seen, unique = set(), []
    for script in scripts:
        key = repr((getattr(script, "filename", script) or "", sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def colab_edition_url(url: str) -> str:
    """A Colab launch URL of an executed chapter, pointed at the chapter's reader edition; other URLs as they are."""
    return COLAB_CHAPTER.sub(r"\1colab/\2", url)


def _point_buttons_at_the_edition(buttons: list[dict[str, Any]]) -> None:
    for button in buttons:
        if "url" in button:
            button["url"] = colab_edition_url(button["url"])
        _point_buttons_at_the_edition(button.get("buttons", []))


def _fix_page(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(list(context["script_files"]))
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    _point_buttons_at_the_edition(context.get("header_buttons", []))


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _fix_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
