"""The HTML book, built by Jupyter Book from the executed copies (which it never executes itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gancourse.book.layout import BookLayout
from gancourse.book.offline import ensure_mathjax
from gancourse.book.report import refresh_run_info, write_execution_report


def build_book(layout: BookLayout, strict: bool = True) -> Path:
    """Build the HTML book from the executed copies; ``strict`` turns every Sphinx warning into an error."""
    ensure_mathjax(layout.root / "_build" / "assets")
    refresh_run_info(layout)
    write_execution_report(layout)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(layout.root), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=layout.root)
    if result.returncode != 0:
        raise RuntimeError(f"the book build failed (exit {result.returncode}); see the warnings above")
    return layout.html / "index.html"
