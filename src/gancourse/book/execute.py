"""Executing chapters: papermill runs each source into its executed copy, or into a scratch folder to time it.

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
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

from gancourse.book.copies import RUN_INFO_TAG, code_digest, source_cells, write_notebook_atomically
from gancourse.book.layout import BookLayout
from gancourse.book.report import chapter_estimates, run_info_markdown, slowest_cells, slowest_text
from gancourse.book.run_times import format_duration, read_run_times, record_run_time
from gancourse.paths import checkpoint_dir
from gancourse.results import read_recorded
from gancourse.train.loop import NO_PROGRESS_BAR_ENV


class ChapterExecutionError(RuntimeError):
    """One or more chapters failed to execute; the message names them."""


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
    executed_cells = source_cells(executed)
    if [c.cell_type for c in executed_cells] != [c.cell_type for c in source_notebook.cells]:
        raise ChapterExecutionError(f"{executed_path} does not match the cells of {source}; re-execute it")
    changed = False
    for mine, theirs in zip(executed_cells, source_notebook.cells, strict=True):
        if mine.cell_type == "markdown" and mine.source != theirs.source:
            mine.source = theirs.source
            changed = True
    if changed:
        write_notebook_atomically(executed, executed_path)
    return changed


def carry_code_forward(layout: BookLayout, source: Path, reason: str) -> Path:
    """Give an executed copy its source's current cells without re-running them, for a code change whose
    effect the next re-execution will show (e.g. an API rename): the copy keeps its outputs, takes the new
    code and prose, and records ``code_changed_since_run`` (``reason``, date, the digest of the code that
    produced the outputs), which its page header states. A later execution replaces all of it."""
    if not reason.strip():
        raise ValueError("say why the outputs may stand without re-execution (--reason)")
    executed_path = layout.executed_copy(source)
    if not executed_path.exists():
        raise ChapterExecutionError(f"{source.stem} has no executed copy to carry code into; execute it")
    executed = nbformat.read(executed_path, as_version=4)
    source_notebook = nbformat.read(source, as_version=4)
    executed_cells = source_cells(executed)
    if [c.cell_type for c in executed_cells] != [c.cell_type for c in source_notebook.cells]:
        raise ChapterExecutionError(f"{executed_path} does not match the cells of {source} (cells were added or "
                                    "removed); re-execute it")
    for mine, theirs in zip(executed_cells, source_notebook.cells, strict=True):
        mine.source = theirs.source
    info = executed.metadata["gancourse"]
    earlier = info.get("code_changed_since_run", {})
    info["code_changed_since_run"] = {
        "reason": reason.strip(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "run_code_digest": earlier.get("run_code_digest", info["code_digest"])}
    info["code_digest"] = code_digest(source_notebook)
    write_notebook_atomically(executed, executed_path)
    return executed_path


def execute_chapter(
    layout: BookLayout,
    source: Path,
    profile: str,
    dataset: str | None = None,
    seed: int | None = None,
    kernel_name: str = "python3",
    weights: str | None = None,
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
    if weights is not None:
        parameters["weights"] = weights
    layout.failed.mkdir(parents=True, exist_ok=True)
    scratch = layout.failed / source.name
    stored_before = _stored_checkpoints()
    started = time.perf_counter()
    _run_papermill(source, scratch, parameters, kernel_name, {})
    wall_seconds = time.perf_counter() - started
    notebook = nbformat.read(scratch, as_version=4)
    published = {model["file"] for model in _recorded_models(notebook) if model["source"] == "published"}
    finished = _with_run_info(layout, notebook, source, parameters, wall_seconds,
                              models_trained=len(_stored_checkpoints() - stored_before - published))
    target = layout.executed_copy(source)
    write_notebook_atomically(finished, target)
    scratch.unlink()
    return target


def execute_chapters(layout: BookLayout, sources: list[Path], profile: str,
                     dataset: str | None = None, seed: int | None = None, weights: str | None = None) -> list[Path]:
    """Execute several chapters; every chapter is tried, then one error names all that failed."""
    failures = []
    done = []
    for source in sources:
        print(f"executing {source.stem} (profile {profile}) ...", flush=True)
        try:
            done.append(execute_chapter(layout, source, profile, dataset, seed, weights=weights))
            info = nbformat.read(done[-1], as_version=4).metadata["gancourse"]
            print(f"  {source.stem}: {format_duration(info['wall_seconds'])}, {info['models_trained']} model(s) "
                  f"trained{slowest_text(info)}", flush=True)
        except ChapterExecutionError as error:
            print(f"FAILED: {error}", file=sys.stderr, flush=True)
            failures.append(str(error))
    if failures:
        raise ChapterExecutionError(f"{len(failures)} chapter(s) failed:\n" + "\n".join(failures))
    return done


def execute_stale(layout: BookLayout, profile: str, dataset: str | None = None, seed: int | None = None,
                  weights: str | None = None) -> list[Path]:
    """Bring every executed copy up to date: a prose-only edit is copied over without running anything, and
    the chapters whose code changed (or that have no copy yet) are executed; returns the executed copies."""
    sources = stale_chapters(layout)
    for source in layout.chapter_sources():
        if source not in sources and refresh_prose(layout, source):
            print(f"{source.stem}: code unchanged, prose copied from the source")
    if not sources:
        print("every executed chapter is up to date with its source's code")
        return []
    return execute_chapters(layout, sources, profile, dataset, seed, weights)


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
    folder = checkpoint_dir()
    return {path.name for path in folder.glob("*.pt") if not path.name.endswith(".progress.pt")} if folder.is_dir() else set()


def _recorded_models(notebook: Any) -> list[dict[str, Any]]:
    """The models a chapter's zoo recorded (:func:`gancourse.zoo.recipe.model_summary`), by file name."""
    return [value for name, value in sorted(read_recorded(notebook).items()) if name.startswith("model_")]


def _with_run_info(layout: BookLayout, notebook: Any, source: Path, parameters: dict[str, Any], wall_seconds: float,
                   models_trained: int) -> Any:
    """Drop papermill's injected-parameters cell, fill metadata, record the run in ``book/run_times.json``
    and add the run-info cell (with every profile's measured time) under the title."""
    recorded = read_recorded(notebook)
    missing = [key for key in ("run_profile", "run_device", "run_dataset", "run_seed", "run_weights", "run_versions")
               if key not in recorded]
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
        "weights": recorded["run_weights"],
        "models": _recorded_models(notebook),
        "versions": recorded["run_versions"],
        "wall_seconds": round(wall_seconds, 1),
        "executed_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "models_trained": models_trained,
        "slowest_cells": slowest_cells(notebook),
    }
    record_run_time(layout, source.stem, info)
    header = run_info_markdown(info, read_run_times(layout)[source.stem], chapter_estimates(layout).get(source.stem))
    notebook = copy.deepcopy(notebook)
    notebook.cells = source_cells(notebook)
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(header, metadata={"tags": [RUN_INFO_TAG]}))
    notebook.metadata["gancourse"] = info
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return notebook


def time_chapters(layout: BookLayout, sources: list[Path], profile: str, scratch: Path,
                  weights: str = "published") -> dict[str, float]:
    """Execute ``sources`` in order from an empty checkpoint store in ``scratch`` (each chapter trains what
    the chapters before it did not, as in a first run of the book) without touching the published copies,
    and record their wall times for ``profile`` and ``weights`` (``"published"``: a reader's first run, which
    loads the published weights; ``"train"``: every model trained with the profile's budget). Returns
    chapter → seconds."""
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
        _run_papermill(source, scratch / source.name, {"profile": profile, "weights": weights}, "python3",
                       {"GANCOURSE_CHECKPOINT_DIR": str(store)})
        seconds[source.stem] = time.perf_counter() - started
        recorded = read_recorded(nbformat.read(scratch / source.name, as_version=4))
        record_run_time(layout, source.stem, {
            "profile": recorded["run_profile"], "weights": weights, "device": recorded["run_device"],
            "wall_seconds": round(seconds[source.stem], 1), "models_trained": len(list(store.glob("*.pt"))) - stored_before,
            "executed_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")})
    return seconds
