"""The HTML book, built by Jupyter Book from the executed copies (which it never executes itself)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from gancourse.book.editions import write_edition
from gancourse.book.layout import BookLayout
from gancourse.book.offline import ensure_mathjax
from gancourse.book.report import refresh_run_info, write_execution_report


def build_book(layout: BookLayout, strict: bool = True) -> Path:
    """Build the HTML book from the executed copies, and their reader edition (``colab/``, which the Colab
    buttons open); ``strict`` turns every Sphinx warning into an error. Every Colab button must open a file
    of the repository."""
    ensure_mathjax(layout.root / "_build" / "assets")
    refresh_run_info(layout)
    write_execution_report(layout)
    write_edition(layout, "reader", layout.colab)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(layout.root), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=layout.root)
    if result.returncode != 0:
        raise RuntimeError(f"the book build failed (exit {result.returncode}); see the warnings above")
    check_colab_links(layout)
    return layout.html / "index.html"


def check_colab_links(layout: BookLayout) -> int:
    """Every Colab launch link in the built HTML opens a notebook that exists in the repository at that path
    (``…/blob/BRANCH/PATH``); returns how many links were checked."""
    checked = 0
    for page in layout.html.rglob("*.html"):
        for path in re.findall(r"https://colab\.research\.google\.com/github/[^\"'/]+/[^\"'/]+/blob/[^\"'/]+/([^\"']+)",
                               page.read_text(encoding="utf-8")):
            if not (layout.root / path).is_file():
                raise RuntimeError(f"{page.relative_to(layout.html)}: its Colab button opens {path}, which the "
                                   "repository lacks")
            checked += 1
    return checked
