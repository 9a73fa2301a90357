"""What the book says about its own execution: the run-info cell under each chapter's title and
``book/execution_report.md`` (every chapter's run, and its measured time per profile against the targets)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat

from gancourse.book.copies import RUN_INFO_TAG, write_notebook_atomically
from gancourse.book.layout import BookLayout
from gancourse.book.run_times import format_duration, read_run_times, run_key
from gancourse.profiles import PROFILES
from gancourse.zoo.reference import FD_SAMPLES

# On 2 CPU cores: (whole book, any one chapter) in seconds; None = no limit for one chapter.
RUN_TIME_TARGETS = {"smoke": (10 * 60, None), "cpu": (2 * 3600, 12 * 60)}


WORK_CALL = re.compile(r"\bzoo\.\w+\(|\btrain\w*\(|\brun_trial\(|\bproject\(")
"""A call that marks the line of a cell that does its heavy work (comments aside): asking the zoo for a model
(which may train it), training, a trial, a projection — what a slow cell is named by, not its first line."""


def slowest_cells(notebook: Any, count: int = 3) -> list[dict[str, Any]]:
    """The ``count`` code cells papermill timed longest, slowest first: each one's section (the last markdown
    heading before it), its telling line of code — the first that asks for or trains a model
    (:data:`WORK_CALL`), else the first that is not an import or a comment — and seconds: where a chapter's
    time goes, for readers choosing a profile and for whoever trims a budget."""
    timed, section = [], ""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            section = headings[-1] if headings else section
        duration = cell.metadata.get("papermill", {}).get("duration")
        if cell.cell_type == "code" and duration is not None and "injected-parameters" not in cell.metadata.get("tags", []):
            lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
            telling = [line for line in lines if not line.startswith(("import ", "from ", "#", "%"))] or lines or [""]
            working = [line for line in telling if WORK_CALL.search(line.split("#")[0])] or telling
            timed.append({"first_line": working[0][:80].replace("`", "'"), "section": section[:60].replace("`", "'"),
                          "seconds": round(float(duration), 1)})
    return sorted(timed, key=lambda cell: -cell["seconds"])[:count]


def slowest_text(info: dict[str, Any]) -> str:
    """`` Slowest cells in this run: `line` 12.0 s; ...`` from an executed copy's metadata ("" if none)."""
    cells = info.get("slowest_cells") or []
    if not cells:
        return ""
    listed = "; ".join((f"{cell['section']}: " if cell.get("section") else "")
                       + f"`{cell['first_line']}` {format_duration(cell['seconds'])}" for cell in cells)
    then = " (their code as it was then)" if "code_changed_since_run" in info else ""
    return f" Slowest cells in this run{then}: {listed}."


RUN_LABELS = {"published": "", "train": " with weights=\"train\""}


def run_keys() -> list[tuple[str, str]]:
    """Every (run key, label) of the run-time store, in the order profile, then published before train."""
    return [(run_key(profile, weights), profile + label)
            for profile in PROFILES for weights, label in RUN_LABELS.items()]


def run_time_summary(times: dict[str, dict[str, Any]], code_digest: str | None = None) -> str:
    """``"smoke 41.0 s (cpu (2 threads), 3 models trained) · cpu with weights="train" 6 min 24 s (...) · gpu not
    measured yet"``: each measured run key, and each profile not measured with the published weights. A run of
    another version of the chapter's code than ``code_digest`` (or of an unrecorded one) says so, with its date:
    its time is history, not this page's cost."""
    parts = []
    for key, label in run_keys():
        run = times.get(key)
        if run is None:
            if key in PROFILES:
                parts.append(f"{label} not measured yet")
            continue
        trained = run.get("models_trained")
        models = ("models trained: not recorded" if trained is None else
                  "every model loaded" if trained == 0 else f"{trained} model{'s' * (trained != 1)} trained")
        measured = run.get("code_digest")
        when = ("" if code_digest is None or measured == code_digest else
                f", {'an earlier version of this chapter' if measured else 'code version not recorded'}, "
                f"{run['executed_at'][:10]}")
        parts.append(f"{label} {format_duration(run['wall_seconds'])} ({run['device']}, {models}{when})")
    return " · ".join(parts)


QUALITY_LABELS = {
    "test_accuracy": "test accuracy (10,000 test images)",
    "frechet_distance": f"Fréchet distance ({FD_SAMPLES:,} samples vs the test set)",
    "smallest_class_share": f"smallest class share ({FD_SAMPLES:,} samples, classifier A's labels)",
    "untargeted_success": "untargeted success (the test images classifier A classifies correctly, of 10,000)",
    "targeted_success": "targeted success (one random other class each, on the test images classifier A classifies "
                        "correctly, of 10,000)"}
"""What each published model's quality figure is, and what it was measured on."""
RATE_FIGURES = frozenset({"test_accuracy", "smallest_class_share", "untargeted_success", "targeted_success"})


def quality_text(name: str, value: float) -> str:
    """One quality figure as the page header prints it: its label, then a rate in percent or a distance."""
    shown = f"{value:.1%}" if name in RATE_FIGURES else f"{value:.4g}"
    return f"{QUALITY_LABELS.get(name, name.replace('_', ' '))} {shown}"


def models_text(info: dict[str, Any]) -> str:
    """The header's line on where each model of the page came from (:func:`gancourse.zoo.recipe.model_summary`):
    ``"published weights (trained N steps, H h on DEVICE, DATE)"``, ``"trained in this run"`` or loaded from
    the checkpoint store (trained by an earlier run)."""
    models = info.get("models") or []
    if not models:
        return ""
    described = []
    for model in models:
        made = model["published"]
        if made is not None:
            quality = ", ".join(quality_text(name, value) for name, value in made["quality"].items())
            where = (f"published weights (trained {made['steps']:,} steps, {made['wall_seconds'] / 3600:.1f} h on "
                     f"{made['device']}, {made['date'][:10]}; {quality})")
        elif model["source"] == "trained":
            where = f"trained in this run ({format_duration(model['train_seconds'] or 0.0)})"
        else:
            where = "trained by an earlier run with this profile (loaded from the checkpoint store)"
        described.append(f"`{model['name']}` {where}")
    return f"Models (weights **{info['weights']}**): " + "; ".join(described) + ".\n\n"


def code_change_text(info: dict[str, Any]) -> str:
    """The header's warning for a copy whose code was updated after its run (:func:`gancourse.book.execute.carry_code_forward`)."""
    change = info.get("code_changed_since_run")
    if change is None:
        return ""
    return (f"**The code on this page changed after this run** ({change['date']}: {change['reason']}). The outputs "
            "below come from the run described here, made with the earlier code; they will change when the "
            "chapter is re-executed.\n\n")


def chapter_estimates(layout: BookLayout) -> dict[str, dict[str, Any]]:
    """Each chapter's cost-model estimates from ``book/cost_estimates.json`` (empty when the file is missing)."""
    if not layout.cost_estimates.exists():
        return {}
    return json.loads(layout.cost_estimates.read_text())["chapters"]


def estimate_text(estimate: dict[str, Any] | None) -> str:
    """The header's sentence on the gpu profile's predicted time on a Colab T4: the cost model's sum over the
    chapter's heavy loops (training, attacks, projections; :mod:`gancourse.chapter_costs`), so loading, sampling
    and plotting come on top — a chapter whose every trained model is published may have no heavy loop left."""
    if not estimate or "gpu/published" not in estimate or "gpu/train" not in estimate:
        return ""
    on_t4 = {run: estimate[run]["seconds"]["T4"] for run in ("gpu/published", "gpu/train")}
    shown = {run: format_duration(seconds) if seconds >= 1 else "under a second" for run, seconds in on_t4.items()}
    return (f" Estimated by the book's cost model (its heavy loops only — training, attacks, projections — not a "
            f"measurement): on a Colab T4 the gpu profile's heavy loops take {shown['gpu/published']} with the "
            f"published weights, {shown['gpu/train']} with weights=\"train\" (the execution report gives other "
            "GPUs).")


def run_info_markdown(info: dict[str, Any], times: dict[str, dict[str, Any]],
                      estimate: dict[str, Any] | None = None) -> str:
    """The cell that tells the reader how this page was executed, how long each profile took, and (``estimate``:
    the chapter's entry of ``book/cost_estimates.json``) what the cost model predicts on a GPU."""
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items())
    number = Path(info["source"]).name[:2]
    return (
        "```{admonition} How this page was executed\n"
        f"Profile **{info['profile']}** · device **{info['device']}** · dataset **{info['dataset']}** · "
        f"seed **{info['seed']}** · wall time **{format_duration(info['wall_seconds'])}** · "
        f"executed {info['executed_at']}.\n\n"
        f"Measured run times of this chapter: {run_time_summary(times, info.get('code_digest'))}."
        f"{estimate_text(estimate)}"
        f"{slowest_text(info)}\n\n"
        f"Versions: {versions}.\n\n"
        f"{models_text(info)}"
        f"{code_change_text(info)}"
        f"Every number and figure below comes from this run, from the models listed above (a published "
        f"model's training steps and time are its recorded ones; results read from a cache of an earlier run "
        f"with the same models and images say so where they are printed). Re-execute it with "
        f"`make execute CHAPTER={number} PROFILE=gpu` (see the README), or open `{info['source']}` in Colab "
        "with the rocket button above; there the `parameters` cell's `profile=\"auto\"` picks the GPU budget.\n"
        "```"
    )


def refresh_run_info(layout: BookLayout) -> int:
    """Rewrite each executed copy's run-info cell from its metadata and ``book/run_times.json`` (so a later
    timing of another profile shows on every page); returns how many copies changed."""
    times, estimates = read_run_times(layout), chapter_estimates(layout)
    changed = 0
    for source in layout.chapter_sources():
        path = layout.executed_copy(source)
        if not path.exists():
            continue
        notebook = nbformat.read(path, as_version=4)
        cell = next(cell for cell in notebook.cells if RUN_INFO_TAG in cell.metadata.get("tags", []))
        text = run_info_markdown(notebook.metadata["gancourse"], times.get(source.stem, {}),
                                 estimates.get(source.stem))
        if cell.source != text:
            cell.source = text
            write_notebook_atomically(notebook, path)
            changed += 1
    return changed


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
    columns = [(key, label) for key, label in run_keys()
               if key in PROFILES or any(key in times.get(chapter, {}) for chapter in chapters)]
    time_rows = []
    for chapter in chapters:
        cells = []
        for key, _ in columns:
            run = times.get(chapter, {}).get(key)
            cells.append("not measured" if run is None else
                         f"{format_duration(run['wall_seconds'])} ({run['device']}"
                         f"{'' if run.get('models_trained') is None else ', ' + str(run['models_trained']) + ' trained'})")
        time_rows.append(f"| {chapter} | " + " | ".join(cells) + " |")
    totals, verdicts = [], []
    for key, label in columns:
        runs = [times.get(chapter, {}).get(key) for chapter in chapters]
        if any(run is None for run in runs):
            totals.append(f"{sum(run is not None for run in runs)} of {len(chapters)} measured")
            continue
        total, longest = sum(run["wall_seconds"] for run in runs), max(run["wall_seconds"] for run in runs)
        totals.append(f"**{format_duration(total)}**")
        profile = key.split("/")[0]
        if profile in RUN_TIME_TARGETS:
            book_limit, chapter_limit = RUN_TIME_TARGETS[profile]
            met = total <= book_limit and (chapter_limit is None or longest <= chapter_limit)
            verdicts.append(f"- {label}: whole book {format_duration(total)} (target {format_duration(book_limit)})"
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
        "store). A column named after a profile is a run with the published weights, as a reader runs it; "
        "*with weights=\"train\"* is a run that trains every model with the profile's budget "
        "(`gancourse time-chapters --weights train`). *Trained* counts the models the run had to train; a run "
        "that found its models in the store is much faster than a cold one.\n\n"
        "| chapter | " + " | ".join(label for _, label in columns) + " |\n|---|" + "---|" * len(columns) + "\n"
        + "\n".join(time_rows) + "\n| **whole book** | " + " | ".join(totals) + " |\n\n"
        "Targets on 2 CPU cores: the smoke profile runs every chapter in under 10 minutes; the cpu profile runs "
        "the whole book in under 2 hours with no chapter over 12 minutes. Each column is the last run recorded for "
        "it: `gancourse time-chapters` runs are first runs from an empty store (each chapter finds there only what "
        "the chapters before it trained), while a `gancourse execute` run may find its models in the store and "
        "record a shorter time and fewer trained models (the README's chapter table keeps the first-run "
        "figures).\n\n" + "\n".join(verdicts) + "\n"
    )
    target = layout.root / "book" / "execution_report.md"
    target.write_text(text + estimates_section(layout))
    return target


ESTIMATE_COLUMNS = (("cpu/published", ("T4",)), ("gpu/published", ("T4", "L4", "A100", "H100 SXM")),
                    ("gpu/train", ("T4",)))  # (profile/weights, cards) shown per chapter


def estimates_section(layout: BookLayout) -> str:
    """The report's section of predicted times per GPU (``book/cost_estimates.json``, written by
    ``gancourse costs --chapters``): "" when the file is missing."""
    if not layout.cost_estimates.exists():
        return ""
    estimates = json.loads(layout.cost_estimates.read_text())
    chapters = [source.stem for source in layout.chapter_sources()]
    columns = [(run, card) for run, cards in ESTIMATE_COLUMNS for card in cards]
    header = "| chapter | " + " | ".join(f"{run.replace('/', ', weights ')}: {card}" for run, card in columns) + \
        " | largest loop (gpu, published) |"
    rows = []
    for chapter in chapters:
        costs = estimates["chapters"].get(chapter)
        if costs is None:
            rows.append(f"| {chapter} | not estimated |")
            continue
        cells = [format_duration(costs[run]["seconds"][card]) for run, card in columns]
        largest = costs.get("gpu/published", {})
        loop = f"{largest.get('largest_loop', '')} ({largest.get('largest_loop_share', 0):.0%})" if largest else ""
        rows.append(f"| {chapter} | " + " | ".join(cells) + f" | {loop} |")
    assumptions = estimates["assumptions"]
    return (
        "\n## Estimated time on GPUs\n\n"
        "Predicted by the cost model (`gancourse.chapter_costs`; `gancourse costs --chapters` rewrites "
        "`book/cost_estimates.json`): each chapter's heavy loops counted in units whose FLOPs PyTorch counts on the "
        "package's own code, each loop taking the longer of its arithmetic at "
        f"{assumptions['efficiency']:.0%} of the card's published fp32/TF32 peak and its sequential steps' "
        f"operations at {assumptions['operation_seconds'] * 1e6:.0f} µs each, on a fresh machine (nothing in the "
        "checkpoint store). The efficiency is assumed until `gancourse gpu-check` measures it on a GPU; attacks "
        "that stop early per image are counted at their full step counts, so the estimates are upper bounds "
        "where those dominate (chapter 11's adaptive attack on Defense-GAN). These are estimates, not measurements: no chapter has run in the gpu profile yet.\n\n"
        + header + "\n|---|" + "---|" * (header.count("|") - 2) + "\n" + "\n".join(rows) + "\n"
    )
