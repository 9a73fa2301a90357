"""The notebook pipeline: execute chapter sources with papermill, keep executed copies, build the book.

``notebooks/NN_name.ipynb`` (sources, no outputs, a ``parameters`` cell with ``profile``, ``dataset``,
``seed``) are executed by papermill into ``book/chapters/NN_name.ipynb`` (the executed copies the book
publishes; Jupyter Book's own execution is off). Each executed copy gets, under its title, a cell that
states the profile, device, dataset, seed, wall time and package versions it ran with, and keeps the same
facts plus a digest of its source's code in its metadata (``metadata.gancourse``), so a copy whose code is
out of date is found (:func:`stale_chapters`) and re-executed, while a prose-only edit is copied over
without re-running anything (:func:`refresh_prose`).
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from gancourse.files import atomic_write
from gancourse.paths import repository_root
from gancourse.results import read_recorded
from gancourse.train.gan import NO_PROGRESS_BAR_ENV

RUN_INFO_TAG = "run-info"
INSTALL_URL_PATTERN = re.compile(r"git\+https://[^\s\"'\\]+")
CONFIG_URL_PATTERN = re.compile(r"^(repository:\n(?:[ \t]+.*\n)*?[ \t]+url:[ \t]*)(\S+)", re.MULTILINE)


class ChapterExecutionError(RuntimeError):
    """One or more chapters failed to execute; the message names them."""


@dataclass(frozen=True)
class BookLayout:
    """Where sources, executed copies and the built HTML live (all under the repository root)."""

    root: Path

    @property
    def sources(self) -> Path:
        return self.root / "notebooks"

    @property
    def executed(self) -> Path:
        return self.root / "book" / "chapters"

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html"

    @property
    def failed(self) -> Path:
        return self.root / "_build" / "failed"

    @classmethod
    def of_repository(cls) -> BookLayout:
        root = repository_root()
        if root is None:
            raise RuntimeError("the book pipeline runs from a checkout of the repository (pip install -e .)")
        return cls(root)

    def chapter_sources(self) -> list[Path]:
        """The chapter notebooks, ``notebooks/NN_*.ipynb``, in chapter order."""
        return sorted(self.sources.glob("[0-9][0-9]_*.ipynb"))

    def find_chapter(self, selector: str) -> Path:
        """The source of a chapter given by number (``"7"``, ``"07"``), stem or file name."""
        for source in self.chapter_sources():
            number = source.name[:2]
            if selector in (source.stem, source.name, number) or (selector.isdigit() and int(selector) == int(number)):
                return source
        names = ", ".join(source.stem for source in self.chapter_sources())
        raise ValueError(f"no chapter {selector!r}; the chapters are: {names}")

    def executed_copy(self, source: Path) -> Path:
        return self.executed / source.name


def code_digest(notebook: Any) -> str:
    """SHA-256 of the code cells' sources, in order (what decides whether outputs are still valid)."""
    digest = hashlib.sha256()
    for cell in _source_cells(notebook):
        if cell["cell_type"] == "code":
            digest.update(cell["source"].encode() + b"\0")
    return digest.hexdigest()


def _source_cells(notebook: Any) -> list[Any]:
    """The cells that come from the source: not the run-info cell, not papermill's injected parameters."""
    return [cell for cell in notebook["cells"]
            if not {RUN_INFO_TAG, "injected-parameters"} & set(cell.get("metadata", {}).get("tags", []))]


def execute_chapter(
    layout: BookLayout,
    source: Path,
    profile: str,
    dataset: str | None = None,
    seed: int | None = None,
    kernel_name: str = "python3",
) -> Path:
    """Execute one chapter with papermill into its executed copy; returns the copy's path.

    Parameters not given keep the notebook's defaults. On failure the good executed copy is left alone,
    the partly executed notebook goes to ``_build/failed/`` and :class:`ChapterExecutionError` names the
    chapter, the cell and the error.
    """
    import papermill

    parameters: dict[str, Any] = {"profile": profile}
    if dataset is not None:
        parameters["dataset"] = dataset
    if seed is not None:
        parameters["seed"] = seed
    layout.failed.mkdir(parents=True, exist_ok=True)
    scratch = layout.failed / source.name
    started = time.perf_counter()
    previous = os.environ.get(NO_PROGRESS_BAR_ENV)
    os.environ[NO_PROGRESS_BAR_ENV] = "1"  # the kernel inherits it: no progress bars in published pages
    try:
        papermill.execute_notebook(str(source), str(scratch), parameters=parameters, kernel_name=kernel_name,
                                   cwd=str(source.parent), progress_bar=False)
    except papermill.PapermillExecutionError as error:
        raise ChapterExecutionError(
            f"chapter {source.stem} failed in cell [{error.exec_count}] with {error.ename}: {error.evalue} "
            f"(profile {profile}); the partly executed notebook is {scratch}"
        ) from error
    finally:
        if previous is None:
            os.environ.pop(NO_PROGRESS_BAR_ENV, None)
        else:
            os.environ[NO_PROGRESS_BAR_ENV] = previous
    wall_seconds = time.perf_counter() - started
    notebook = nbformat.read(scratch, as_version=4)
    finished = _with_run_info(notebook, source, parameters, wall_seconds)
    target = layout.executed_copy(source)
    _write_notebook_atomically(finished, target)
    scratch.unlink()
    return target


def _with_run_info(notebook: Any, source: Path, parameters: dict[str, Any], wall_seconds: float) -> Any:
    """Drop papermill's injected-parameters cell, add the run-info cell under the title, fill metadata."""
    recorded = read_recorded(notebook)
    missing = [key for key in ("run_profile", "run_device", "run_dataset", "run_seed", "run_versions") if key not in recorded]
    if missing:
        raise ChapterExecutionError(f"chapter {source.stem} never called gancourse.runtime.start_chapter "
                                    f"(missing records: {', '.join(missing)})")
    info = {
        "source": f"notebooks/{source.name}",
        "code_digest": code_digest(nbformat.read(source, as_version=4)),
        "parameters": parameters,
        "profile": recorded["run_profile"],
        "device": recorded["run_device"],
        "dataset": recorded["run_dataset"],
        "seed": recorded["run_seed"],
        "versions": recorded["run_versions"],
        "wall_seconds": round(wall_seconds, 1),
        "executed_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    notebook = copy.deepcopy(notebook)
    notebook.cells = _source_cells(notebook)
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(run_info_markdown(info), metadata={"tags": [RUN_INFO_TAG]}))
    notebook.metadata["gancourse"] = info
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return notebook


def format_duration(seconds: float) -> str:
    """``75.2`` → ``"1 min 15 s"``; ``12.3`` → ``"12.3 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def run_info_markdown(info: dict[str, Any]) -> str:
    """The cell that tells the reader how this page was executed."""
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    number = Path(info["source"]).name[:2]
    return (
        "```{admonition} How this page was executed\n"
        f"Profile **{info['profile']}** · device **{info['device']}** · dataset **{info['dataset']}** · "
        f"seed **{info['seed']}** · wall time **{format_duration(info['wall_seconds'])}** · "
        f"executed {info['executed_at']}.\n\n"
        f"Versions: {versions}.\n\n"
        f"Every number and figure below comes from this run. Re-execute it with "
        f"`make execute CHAPTER={number} PROFILE=gpu` (see the README), or open `{info['source']}` in Colab "
        "with the rocket button above; there the `parameters` cell's `profile=\"auto\"` picks the GPU budget.\n"
        "```"
    )


def _write_notebook_atomically(notebook: Any, target: Path) -> None:
    with atomic_write(target, "w") as file:
        nbformat.write(notebook, file)


def stale_chapters(layout: BookLayout) -> list[Path]:
    """Sources whose executed copy is missing or was executed from different code."""
    stale = []
    for source in layout.chapter_sources():
        executed = layout.executed_copy(source)
        if not executed.exists():
            stale.append(source)
            continue
        info = json.loads(executed.read_text()).get("metadata", {}).get("gancourse", {})
        if info.get("code_digest") != code_digest(nbformat.read(source, as_version=4)):
            stale.append(source)
    return stale


def refresh_prose(layout: BookLayout, source: Path) -> bool:
    """Copy the source's markdown cells into an up-to-date executed copy; True if anything changed."""
    executed_path = layout.executed_copy(source)
    executed = nbformat.read(executed_path, as_version=4)
    source_notebook = nbformat.read(source, as_version=4)
    executed_cells = _source_cells(executed)
    if [c.cell_type for c in executed_cells] != [c.cell_type for c in source_notebook.cells]:
        raise ChapterExecutionError(f"{executed_path} does not match the cells of {source}; re-execute it")
    changed = False
    for mine, theirs in zip(executed_cells, source_notebook.cells, strict=True):
        if mine.cell_type == "markdown" and mine.source != theirs.source:
            mine.source = theirs.source
            changed = True
    if changed:
        _write_notebook_atomically(executed, executed_path)
    return changed


def execute_chapters(layout: BookLayout, sources: list[Path], profile: str,
                     dataset: str | None = None, seed: int | None = None) -> list[Path]:
    """Execute several chapters; every chapter is tried, then one error names all that failed."""
    failures = []
    done = []
    for source in sources:
        print(f"executing {source.stem} (profile {profile}) ...", flush=True)
        try:
            done.append(execute_chapter(layout, source, profile, dataset, seed))
        except ChapterExecutionError as error:
            print(f"FAILED: {error}", file=sys.stderr, flush=True)
            failures.append(str(error))
    if failures:
        raise ChapterExecutionError(f"{len(failures)} chapter(s) failed:\n" + "\n".join(failures))
    return done


def write_execution_report(layout: BookLayout) -> Path:
    """Write ``book/execution_report.md``: one row per executed chapter, from the copies' metadata."""
    rows = []
    for source in layout.chapter_sources():
        executed = layout.executed_copy(source)
        if not executed.exists():
            rows.append(f"| {source.stem} | not executed | | | | | |")
            continue
        info = json.loads(executed.read_text())["metadata"]["gancourse"]
        rows.append(f"| [{source.stem}](chapters/{source.stem}) | {info['profile']} | {info['device']} | "
                    f"{info['dataset']} | {info['seed']} | {format_duration(info['wall_seconds'])} | "
                    f"{info['executed_at']} |")
    text = (
        "# Execution report\n\n"
        "How each chapter of this edition was executed (read from the executed notebooks' metadata by "
        "`gancourse build`). Re-execute any of them as the README says.\n\n"
        "| chapter | profile | device | dataset | seed | wall time | executed |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    target = layout.root / "book" / "execution_report.md"
    target.write_text(text)
    return target


def build_book(layout: BookLayout, strict: bool = True) -> Path:
    """Build the HTML book from the executed copies; ``strict`` turns every Sphinx warning into an error."""
    write_execution_report(layout)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(layout.root), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=layout.root)
    if result.returncode != 0:
        raise RuntimeError(f"the book build failed (exit {result.returncode}); see the warnings above")
    return layout.html / "index.html"


def set_repository(layout: BookLayout, url: str) -> int:
    """Set the repository URL in ``_config.yml`` and every notebook's Colab install cell; returns how many
    notebooks were rewritten. ``_config.yml``'s ``repository.url`` is the one place that names it."""
    url = url.rstrip("/")
    if not re.fullmatch(r"https://[^\s\"'\\]+", url):
        raise ValueError(f"the repository URL must start with https:// and contain no spaces or quotes: {url!r}")
    config = layout.root / "_config.yml"
    text, count = CONFIG_URL_PATTERN.subn(lambda match: match.group(1) + url, config.read_text(), count=1)
    if count != 1:
        raise ValueError(f"{config} has no 'url:' line under 'repository:' to change")
    config.write_text(text)
    notebooks = [*layout.chapter_sources(), *sorted(layout.executed.glob("*.ipynb"))]
    for notebook in notebooks:
        notebook.write_text(INSTALL_URL_PATTERN.sub(f"git+{url}", notebook.read_text()))
    return len(notebooks)
