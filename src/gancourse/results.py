"""Key results of a chapter, recorded so that prose can quote them and tests can read them.

:func:`record` writes a hidden output in myst-nb's ``glue`` format, so a markdown cell of the book can
quote it with ``{glue:text}`name:.3f```; the exact JSON value travels in the output's metadata, where
:func:`read_recorded` (and the tests) find it in an executed notebook. myst-nb itself is not needed at run
time (it is not installed on Colab); only IPython is.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

GLUE_MIME_PREFIX = "application/papermill.record/"  # the prefix myst-nb's glue uses for hidden values


def record(name: str, value: Any) -> None:
    """Record ``value`` under ``name`` as a hidden glue output (JSON-serialisable values only)."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"record name {name!r} must be letters, digits, '_' or '-'")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"record({name!r}, ...) needs a JSON value (numbers, strings, lists, dicts): {error}") from error
    bundle, metadata = format_display_data(_for_display(value))
    metadata["scrapbook"] = {"name": name, "mime_prefix": GLUE_MIME_PREFIX}
    metadata["gancourse"] = {"value": value}
    display({GLUE_MIME_PREFIX + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)


def slug(label: str) -> str:
    """A label such as ``"C&W L2"`` or ``"Defense-GAN-Orig"`` as a record-name part: runs of characters other
    than letters and digits become one ``_`` (``"C_W_L2"``, ``"Defense_GAN_Orig"``)."""
    return re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_")


def _for_display(value: Any) -> Any:
    """Floats are glued as Python floats, so ``{glue:text}`name:.2f``` formats them."""
    return float(value) if isinstance(value, float) and math.isfinite(value) else value


def read_recorded(notebook: str | Path | dict[str, Any]) -> dict[str, Any]:
    """All values recorded in an executed notebook (a path or its parsed JSON), by name."""
    if not isinstance(notebook, dict):
        notebook = json.loads(Path(notebook).read_text())
    values: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {})
            if "scrapbook" in meta and "gancourse" in meta:
                values[meta["scrapbook"]["name"]] = meta["gancourse"]["value"]
    return values
