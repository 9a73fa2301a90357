"""The student and instructor editions of the chapter notebooks.

Solutions in the sources take two forms, and the student edition removes both:

* text solutions — a ```` ```{solution} label ```` fenced block inside a markdown cell: removed;
* code solutions — gated between ```` ```{solution-start} ```` and ```` ```{solution-end} ```` markdown
  cells. A code cell tagged ``solution`` keeps its lines outside ``# BEGIN SOLUTION`` / ``# END SOLUTION``
  (signature, docstring) and gets ``raise NotImplementedError`` in their place; a ``solution`` cell
  without markers (a demonstration that calls the solution) and the explanation between the gates go.

Cells tagged ``exercise-check`` (``gancourse.exercises`` self-checks) stay in both editions, so a student
runs the stub, writes the body, and reruns the check. The instructor edition keeps every solution.

Every edition is plain Jupyter markdown (:mod:`gancourse.book.plain_markdown`): the numbers the text quotes
are those of the book's published run (the executed copy's recorded values, the run named once at the
top), exercises are headings, solutions fold in ``<details>`` (instructor, reader) or are gone (student),
citations link to the online bibliography. The ``reader`` edition is the executed chapters themselves, with
their outputs — what the rocket button opens in Colab.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import nbformat

from gancourse.book.layout import BookLayout
from gancourse.book.plain_markdown import Reference, parse_bibliography, plain_markdown
from gancourse.book.repository import pages_url
from gancourse.results import read_recorded
from gancourse.weights import config_repository

EDITIONS = ("reader", "student", "instructor")
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


def plain_notebook(notebook: Any, values: dict[str, Any], references: dict[str, Reference], bibliography_url: str,
                   solutions: str, note: str) -> Any:
    """A copy of ``notebook`` whose markdown is plain (``solutions``: "details" or "remove"), without the
    hidden outputs that carry recorded values, and with ``note`` (which run the text's numbers come from)
    after the title cell."""
    result = copy.deepcopy(notebook)
    for cell in result.cells:
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, values, references, bibliography_url, solutions)
        elif cell.cell_type == "code":
            cell.outputs = [output for output in cell.get("outputs", []) if "scrapbook" not in output.get("metadata", {})]
    result.cells.insert(1, nbformat.v4.new_markdown_cell(note, id="published-run-note"))  # a fixed id: deterministic
    return result


def run_note(executed: Any, edition: str) -> str:
    """The line that names the published run whose numbers the text quotes."""
    run = executed.metadata.get("gancourse", {})
    missing = [key for key in ("profile", "device", "executed_at") if key not in run]
    if missing:
        raise ValueError(f"the executed copy's run information lacks {', '.join(missing)}: execute the chapter "
                         "with `gancourse execute` first")
    what = ("Numbers in the text and the outputs below" if edition == "reader" else "Numbers in the text")
    return (f"*{what} are from the book's published run (profile {run['profile']}, "
            f"{run['device']}, {run['executed_at']}); run the cells and they print yours.*")


def write_edition(layout: BookLayout, edition: str, output: Path) -> list[Path]:
    """Write the ``edition`` of every chapter into ``output`` (module docstring): ``reader`` from the executed
    copies, ``student`` and ``instructor`` from the sources; the text's numbers always from the executed copy."""
    if edition not in EDITIONS:
        raise ValueError(f"unknown edition {edition!r}; choose one of {', '.join(EDITIONS)}")
    config_url, _ = config_repository((layout.root / "_config.yml").read_text(encoding="utf-8"))
    bibliography_url = pages_url(config_url) + "book/references.html"
    references = parse_bibliography((layout.root / "book" / "references.bib").read_text(encoding="utf-8"))
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for source in layout.chapter_sources():
        executed_path = layout.executed / source.name
        if not executed_path.is_file():
            raise FileNotFoundError(f"{executed_path} is missing: the editions quote its numbers; execute the "
                                    f"chapter first (gancourse execute {source.name[:2]})")
        executed = nbformat.read(executed_path, as_version=4)
        notebook = executed if edition == "reader" else nbformat.read(source, as_version=4)
        if edition == "student":
            notebook = student_notebook(notebook)
        notebook = plain_notebook(notebook, read_recorded(executed), references, bibliography_url,
                                  "remove" if edition == "student" else "details", run_note(executed, edition))
        notebook.metadata["gancourse_edition"] = edition
        target = output / source.name
        nbformat.write(notebook, target)
        written.append(target)
    return written
