"""A Sphinx extension of the book (listed in ``_config.yml``'s ``extra_extensions``): pages without
JavaScript errors. Two fixes, applied just before each page is written (the browser test found both):

* Jupyter Book 1 adds sphinx-thebe's inline configuration script (``const THEBE_JS_URL = ...``) twice, and a
  ``const`` declared twice is an error on every page: identical script entries are dropped, the first kept;
* the theme's colour mode is left empty, which its script reports as an error on a reader's first visit:
  it is set to ``auto`` (follow the reader's system) when no mode is given.
"""

from __future__ import annotations

from typing import Any


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


def _fix_page(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(list(context["script_files"]))
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _fix_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
