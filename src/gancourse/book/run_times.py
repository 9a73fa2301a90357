"""The run-time store, ``book/run_times.json``: chapter → run key → the last measured run, where the run key
is the profile (a run with the published weights, as readers run it) or ``"<profile>/train"`` (a run with
``weights="train"``: every model trained with the profile's budget)."""

from __future__ import annotations

import json
from typing import Any

from gancourse.book.layout import BookLayout
from gancourse.files import atomic_write


def run_key(profile: str, weights: str) -> str:
    """The run key of a run with ``profile`` and ``weights``: ``"cpu"`` or ``"cpu/train"``."""
    return profile if weights == "published" else f"{profile}/{weights}"


def read_run_times(layout: BookLayout) -> dict[str, dict[str, dict[str, Any]]]:
    """``book/run_times.json``: chapter → run key (:func:`run_key`) → the last measured run (wall seconds, device,
    date, models trained, the chapter code's digest). Every execution updates it, the published ones and
    ``time_chapters``' alike."""
    return json.loads(layout.run_times.read_text()) if layout.run_times.exists() else {}


def record_run_time(layout: BookLayout, chapter: str, info: dict[str, Any]) -> None:
    """Store the run described by ``info`` (an executed copy's ``metadata.gancourse``) for its profile and
    weights."""
    times = read_run_times(layout)
    times.setdefault(chapter, {})[run_key(info["profile"], info["weights"])] = {
        "wall_seconds": info["wall_seconds"], "device": info["device"], "executed_at": info["executed_at"],
        "models_trained": info.get("models_trained"), "code_digest": info.get("code_digest")}
    with atomic_write(layout.run_times, "w") as file:
        json.dump({name: dict(sorted(runs.items())) for name, runs in sorted(times.items())}, file, indent=1)
        file.write("\n")


def format_duration(seconds: float) -> str:
    """``75.2`` → ``"1 min 15 s"``; ``12.3`` → ``"12.3 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"
