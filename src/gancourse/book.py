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
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from gancourse.files import atomic_write
from gancourse.paths import repository_root
from gancourse.profiles import PROFILES
from gancourse.results import read_recorded
from gancourse.train.loop import NO_PROGRESS_BAR_ENV

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

    @property
    def run_times(self) -> Path:
        return self.root / "book" / "run_times.json"

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
    parameters: dict[str, Any] = {"profile": profile}
    if dataset is not None:
        parameters["dataset"] = dataset
    if seed is not None:
        parameters["seed"] = seed
    layout.failed.mkdir(parents=True, exist_ok=True)
    scratch = layout.failed / source.name
    stored_before = _stored_checkpoints()
    started = time.perf_counter()
    _run_papermill(source, scratch, parameters, kernel_name, {})
    wall_seconds = time.perf_counter() - started
    notebook = nbformat.read(scratch, as_version=4)
    finished = _with_run_info(layout, notebook, source, parameters, wall_seconds,
                              models_trained=len(_stored_checkpoints() - stored_before))
    target = layout.executed_copy(source)
    _write_notebook_atomically(finished, target)
    scratch.unlink()
    return target


def _run_papermill(source: Path, target: Path, parameters: dict[str, Any], kernel_name: str,
                   environment: dict[str, str]) -> None:
    """Execute ``source`` into ``target``; the kernel inherits ``environment`` (and no progress bars)."""
    import papermill

    changes = {NO_PROGRESS_BAR_ENV: "1", **environment}   # no progress bars in published pages
    previous = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        papermill.execute_notebook(str(source), str(target), parameters=parameters, kernel_name=kernel_name,
                                   cwd=str(source.parent), progress_bar=False)
    except papermill.PapermillExecutionError as error:
        raise ChapterExecutionError(
            f"chapter {source.stem} failed in cell [{error.exec_count}] with {error.ename}: {error.evalue} "
            f"(profile {parameters['profile']}); the partly executed notebook is {target}"
        ) from error
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _stored_checkpoints() -> set[str]:
    """The files in the checkpoint store (the ones a run adds are the models it trained)."""
    from gancourse.paths import checkpoint_dir

    folder = checkpoint_dir()
    return {path.name for path in folder.glob("*.pt") if not path.name.endswith(".progress.pt")} if folder.is_dir() else set()


def read_run_times(layout: BookLayout) -> dict[str, dict[str, dict[str, Any]]]:
    """``book/run_times.json``: chapter → profile → the last measured run (wall seconds, device, date,
    models trained). Every execution updates it, the published ones and :func:`time_chapters`' alike."""
    return json.loads(layout.run_times.read_text()) if layout.run_times.exists() else {}


def record_run_time(layout: BookLayout, chapter: str, info: dict[str, Any]) -> None:
    """Store the run described by ``info`` (an executed copy's ``metadata.gancourse``) for its profile."""
    times = read_run_times(layout)
    times.setdefault(chapter, {})[info["profile"]] = {
        "wall_seconds": info["wall_seconds"], "device": info["device"], "executed_at": info["executed_at"],
        "models_trained": info.get("models_trained")}
    with atomic_write(layout.run_times, "w") as file:
        json.dump({name: dict(sorted(runs.items())) for name, runs in sorted(times.items())}, file, indent=1)
        file.write("\n")


def time_chapters(layout: BookLayout, sources: list[Path], profile: str, scratch: Path) -> dict[str, float]:
    """Execute ``sources`` in order from an empty checkpoint store in ``scratch`` (each chapter trains what
    the chapters before it did not, as in a first run of the book) without touching the published copies,
    and record their wall times for ``profile``. Returns chapter → seconds."""
    scratch = scratch.resolve()                   # the kernels run in notebooks/: no relative paths
    store = scratch / "checkpoints"
    if store.exists():
        shutil.rmtree(store)                      # cold: the run trains every model it needs
    store.mkdir(parents=True)
    seconds = {}
    for source in sources:
        stored_before = len(list(store.glob("*.pt")))
        print(f"timing {source.stem} (profile {profile}, empty checkpoint store) ...", flush=True)
        started = time.perf_counter()
        _run_papermill(source, scratch / source.name, {"profile": profile}, "python3",
                       {"GANCOURSE_CHECKPOINT_DIR": str(store)})
        seconds[source.stem] = time.perf_counter() - started
        recorded = read_recorded(nbformat.read(scratch / source.name, as_version=4))
        record_run_time(layout, source.stem, {
            "profile": recorded["run_profile"], "device": recorded["run_device"],
            "wall_seconds": round(seconds[source.stem], 1), "models_trained": len(list(store.glob("*.pt"))) - stored_before,
            "executed_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")})
    return seconds


def _with_run_info(layout: BookLayout, notebook: Any, source: Path, parameters: dict[str, Any], wall_seconds: float,
                   models_trained: int) -> Any:
    """Drop papermill's injected-parameters cell, fill metadata, record the run in ``book/run_times.json``
    and add the run-info cell (with every profile's measured time) under the title."""
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
        "models_trained": models_trained,
        "slowest_cells": slowest_cells(notebook),
    }
    record_run_time(layout, source.stem, info)
    header = run_info_markdown(info, read_run_times(layout)[source.stem])
    notebook = copy.deepcopy(notebook)
    notebook.cells = _source_cells(notebook)
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(header, metadata={"tags": [RUN_INFO_TAG]}))
    notebook.metadata["gancourse"] = info
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return notebook


def slowest_cells(notebook: Any, count: int = 3) -> list[dict[str, Any]]:
    """The ``count`` code cells papermill timed longest, slowest first: each one's first line of code (not an
    import or a comment) and seconds — where a chapter's time goes, for readers choosing a profile and for
    whoever trims a budget."""
    timed = []
    for cell in notebook.cells:
        duration = cell.metadata.get("papermill", {}).get("duration")
        if cell.cell_type == "code" and duration is not None and "injected-parameters" not in cell.metadata.get("tags", []):
            lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
            telling = [line for line in lines if not line.startswith(("import ", "from ", "#", "%"))] or lines or [""]
            timed.append({"first_line": telling[0][:80].replace("`", "'"), "seconds": round(float(duration), 1)})
    return sorted(timed, key=lambda cell: -cell["seconds"])[:count]


def format_duration(seconds: float) -> str:
    """``75.2`` → ``"1 min 15 s"``; ``12.3`` → ``"12.3 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def run_time_summary(times: dict[str, dict[str, Any]]) -> str:
    """``"smoke 41.0 s (cpu (2 threads), 3 models trained) · cpu 6 min 24 s (...) · gpu not measured yet"``."""
    parts = []
    for profile in PROFILES:
        run = times.get(profile)
        if run is None:
            parts.append(f"{profile} not measured yet")
            continue
        trained = run.get("models_trained")
        models = ("models trained: not recorded" if trained is None else
                  "every model loaded from the store" if trained == 0 else f"{trained} models trained")
        parts.append(f"{profile} {format_duration(run['wall_seconds'])} ({run['device']}, {models})")
    return " · ".join(parts)


def run_info_markdown(info: dict[str, Any], times: dict[str, dict[str, Any]]) -> str:
    """The cell that tells the reader how this page was executed, and how long each profile takes."""
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    number = Path(info["source"]).name[:2]
    return (
        "```{admonition} How this page was executed\n"
        f"Profile **{info['profile']}** · device **{info['device']}** · dataset **{info['dataset']}** · "
        f"seed **{info['seed']}** · wall time **{format_duration(info['wall_seconds'])}** · "
        f"executed {info['executed_at']}.\n\n"
        f"Measured run times of this chapter: {run_time_summary(times)}.{_slowest_text(info)}\n\n"
        f"Versions: {versions}.\n\n"
        f"Every number and figure below comes from this run. Re-execute it with "
        f"`make execute CHAPTER={number} PROFILE=gpu` (see the README), or open `{info['source']}` in Colab "
        "with the rocket button above; there the `parameters` cell's `profile=\"auto\"` picks the GPU budget.\n"
        "```"
    )


def _slowest_text(info: dict[str, Any]) -> str:
    cells = info.get("slowest_cells") or []
    if not cells:
        return ""
    listed = "; ".join(f"`{cell['first_line']}` {format_duration(cell['seconds'])}" for cell in cells)
    return f" Slowest cells in this run: {listed}."


def refresh_run_info(layout: BookLayout) -> int:
    """Rewrite each executed copy's run-info cell from its metadata and ``book/run_times.json`` (so a later
    timing of another profile shows on every page); returns how many copies changed."""
    times = read_run_times(layout)
    changed = 0
    for source in layout.chapter_sources():
        path = layout.executed_copy(source)
        if not path.exists():
            continue
        notebook = nbformat.read(path, as_version=4)
        cell = next(cell for cell in notebook.cells if RUN_INFO_TAG in cell.metadata.get("tags", []))
        text = run_info_markdown(notebook.metadata["gancourse"], times.get(source.stem, {}))
        if cell.source != text:
            cell.source = text
            _write_notebook_atomically(notebook, path)
            changed += 1
    return changed


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
            info = nbformat.read(done[-1], as_version=4).metadata["gancourse"]
            print(f"  {source.stem}: {format_duration(info['wall_seconds'])}, {info['models_trained']} model(s) "
                  f"trained{_slowest_text(info)}", flush=True)
        except ChapterExecutionError as error:
            print(f"FAILED: {error}", file=sys.stderr, flush=True)
            failures.append(str(error))
    if failures:
        raise ChapterExecutionError(f"{len(failures)} chapter(s) failed:\n" + "\n".join(failures))
    return done


# On 2 CPU cores: (whole book, any one chapter) in seconds; None = no limit for one chapter.
RUN_TIME_TARGETS = {"smoke": (10 * 60, None), "cpu": (2 * 3600, 12 * 60)}


def write_execution_report(layout: BookLayout) -> Path:
    """Write ``book/execution_report.md``: how each published chapter ran (from the executed copies'
    metadata) and every measured run time per profile (from ``book/run_times.json``) against the targets."""
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
    times = read_run_times(layout)
    chapters = [source.stem for source in layout.chapter_sources()]
    time_rows = []
    for chapter in chapters:
        cells = []
        for profile in PROFILES:
            run = times.get(chapter, {}).get(profile)
            cells.append("not measured" if run is None else
                         f"{format_duration(run['wall_seconds'])} ({run['device']}"
                         f"{'' if run.get('models_trained') is None else ', ' + str(run['models_trained']) + ' trained'})")
        time_rows.append(f"| {chapter} | " + " | ".join(cells) + " |")
    totals, verdicts = [], []
    for profile in PROFILES:
        runs = [times.get(chapter, {}).get(profile) for chapter in chapters]
        if any(run is None for run in runs):
            totals.append(f"{sum(run is not None for run in runs)} of {len(chapters)} measured")
            continue
        total, longest = sum(run["wall_seconds"] for run in runs), max(run["wall_seconds"] for run in runs)
        totals.append(f"**{format_duration(total)}**")
        if profile in RUN_TIME_TARGETS:
            book_limit, chapter_limit = RUN_TIME_TARGETS[profile]
            met = total <= book_limit and (chapter_limit is None or longest <= chapter_limit)
            verdicts.append(f"- {profile}: whole book {format_duration(total)} (target {format_duration(book_limit)})"
                            + ("" if chapter_limit is None else f", longest chapter {format_duration(longest)} "
                               f"(target {format_duration(chapter_limit)})") + f" — {'met' if met else 'NOT met'}.")
    text = (
        "# Execution report\n\n"
        "How each chapter of this edition was executed (read from the executed notebooks' metadata by "
        "`gancourse build`). Re-execute any of them as the README says.\n\n"
        "| chapter | profile | device | dataset | seed | wall time | executed |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "## Run time per profile\n\n"
        "The last measured run of each chapter in each profile (`book/run_times.json`; every `gancourse execute` "
        "updates it, and `gancourse time-chapters --profile smoke` times every chapter from an empty checkpoint "
        "store). *Trained* counts the models the run had to train; a run that found its models in the store is "
        "much faster than a cold one.\n\n"
        "| chapter | " + " | ".join(PROFILES) + " |\n|---|" + "---|" * len(PROFILES) + "\n"
        + "\n".join(time_rows) + "\n| **whole book** | " + " | ".join(totals) + " |\n\n"
        "Targets on 2 CPU cores: the smoke profile runs every chapter in under 10 minutes; the cpu profile runs "
        "the whole book in under 2 hours with no chapter over 12 minutes. The smoke column is a first run from an "
        "empty store. The cpu column holds the published runs; for this edition they are one first run of the "
        "book in chapter order (each chapter found in the store only what the chapters before it train), so "
        "its total is what a first cpu run takes on this machine. A re-run that finds its models in the store "
        "records a shorter time and fewer trained models (the README's chapter table keeps the first-run "
        "figures).\n\n" + "\n".join(verdicts) + "\n"
    )
    target = layout.root / "book" / "execution_report.md"
    target.write_text(text)
    return target


def build_book(layout: BookLayout, strict: bool = True) -> Path:
    """Build the HTML book from the executed copies; ``strict`` turns every Sphinx warning into an error."""
    from gancourse.offline import ensure_mathjax

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
