"""The student and instructor editions of the chapter notebooks.

Solutions in the sources take two forms, and the student edition removes both:

* text solutions — a ```` ```{solution} label ```` fenced block inside a markdown cell: removed;
* code solutions — gated between ```` ```{solution-start} ```` and ```` ```{solution-end} ```` markdown
  cells. A code cell tagged ``solution`` keeps its lines outside ``# BEGIN SOLUTION`` / ``# END SOLUTION``
  (signature, docstring) and gets ``raise NotImplementedError`` in their place; a ``solution`` cell
  without markers (a demonstration that calls the solution) and the explanation between the gates go.

Cells tagged ``exercise-check`` (``gancourse.exercises`` self-checks) stay in both editions, so a student
runs the stub, writes the body, and reruns the check. The instructor edition is the sources as they are.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import nbformat

EDITIONS = ("student", "instructor")
SOLUTION_TAG = "solution"
CHECK_TAG = "exercise-check"
_TEXT_SOLUTION = re.compile(r"\n*^```\{solution\}[^\n]*\n.*?^```[ \t]*$\n?", re.MULTILINE | re.DOTALL)
_GATED = re.compile(r"^```\{solution-(start|end)\}")
_CODE_SOLUTION = re.compile(r"^([ \t]*)# BEGIN SOLUTION\n.*?^[ \t]*# END SOLUTION[ \t]*$", re.MULTILINE | re.DOTALL)
STUB = 'raise NotImplementedError("write your solution here, then run the check below")'


def student_notebook(notebook: Any) -> Any:
    """A copy of ``notebook`` with every solution removed and every self-check kept (module docstring)."""
    result = copy.deepcopy(notebook)
    cells, inside_gate = [], False
    for cell in result.cells:
        if cell.cell_type == "markdown" and _GATED.match(cell.source):
            inside_gate = _GATED.match(cell.source).group(1) == "start"
            if inside_gate:
                cells.append(nbformat.v4.new_markdown_cell("**Your solution** (fill in the body, then run the check):"))
            continue
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type == "code" and SOLUTION_TAG in tags:
            if _CODE_SOLUTION.search(cell.source):
                cell.source = _CODE_SOLUTION.sub(lambda match: match.group(1) + STUB, cell.source)
                cell.outputs, cell.execution_count = [], None
                cells.append(cell)
            continue
        if inside_gate:
            continue
        if cell.cell_type == "markdown":
            cell.source = _TEXT_SOLUTION.sub("\n", cell.source).strip()
        cells.append(cell)
    if inside_gate:
        raise ValueError("a {solution-start} cell has no matching {solution-end} cell")
    result.cells = cells
    result.metadata["gancourse_edition"] = "student"
    leftover = [cell.source[:60] for cell in cells if "{solution" in cell.source or "BEGIN SOLUTION" in cell.source]
    if leftover:
        raise ValueError(f"solution markers the student edition cannot remove: {leftover}")
    return result


def write_edition(sources: list[Path], edition: str, output: Path) -> list[Path]:
    """Write the ``edition`` ("student" or "instructor") of every notebook in ``sources`` into ``output``."""
    if edition not in EDITIONS:
        raise ValueError(f"unknown edition {edition!r}; choose one of {', '.join(EDITIONS)}")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        notebook = nbformat.read(source, as_version=4)
        if edition == "student":
            notebook = student_notebook(notebook)
        else:
            notebook.metadata["gancourse_edition"] = "instructor"
        target = output / source.name
        nbformat.write(notebook, target)
        written.append(target)
    return written
