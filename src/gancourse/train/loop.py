"""The skeleton every training loop of the book shares: parts on a device, resumable progress with one
schema, per-step history, a progress bar, and endless batches.

A trainer names its parts (networks and optimisers) and iterates a :class:`TrainingRun`::

    run = TrainingRun({"generator": G, "discriminator": D, "optimiser_generator": opt_g,
                       "optimiser_discriminator": opt_d}, iterations, progress=progress, description="AdvGAN")
    for step in run:              # resumes after the last saved step
        ...                       # one update
        run.log(d_loss=d_loss, success=rate)
    return run.finish(G, D)       # saves, leaves the networks in eval mode, returns the history

The progress schema, the same for every loop (classifier, GANs, AdvGAN/AI-GAN, APE-GAN, CycleGAN,
StyleGAN, MagNet's autoencoder, the detector)::

    {"parts": {name: state_dict},      # networks by name; optimisers named "optimiser_<what it updates>"
     "history": {statistic: [float]},  # one entry per logged step (or epoch)
     "step": int,                      # steps (or epochs) completed
     "rng": ByteTensor}                # torch's CPU random state, so a resumed run draws what it would have

It is saved every ``save_every`` steps and by :meth:`TrainingRun.finish`; the file is never deleted here:
:meth:`gancourse.checkpoints.CheckpointStore.load_or_train` deletes it once the finished model is stored, so
that no crash between the two can lose a finished training.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from gancourse.checkpoints import CheckpointWarning, ProgressFile
from gancourse.validation import check_count

NO_PROGRESS_BAR_ENV = "GANCOURSE_NO_PROGRESS_BAR"  # set by the book's pipeline: no bars in executed pages
OPTIMISER_PREFIX = "optimiser_"
SCHEMA_KEYS = frozenset({"parts", "history", "step", "rng"})

History = dict[str, list[float]]  # what every trainer returns: one list per statistic
Part = nn.Module | torch.optim.Optimizer


def endless(loader: DataLoader) -> Iterator[Any]:
    """Cycle through a loader forever (a new shuffled epoch each time it runs out)."""
    while True:
        yield from loader


def minimise(optimiser: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """One gradient step on ``loss`` (θ ← optimiser step with ∇θ loss, gradients cleared first); returns the
    loss as a float."""
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss.item()


def progress_bars_enabled() -> bool:
    """False when the environment variable :data:`NO_PROGRESS_BAR_ENV` is set (the book's executed pages)."""
    return not os.environ.get(NO_PROGRESS_BAR_ENV)


def adam_parts(networks: Mapping[str, nn.Module], lr: float, device: torch.device | str,
               betas: tuple[float, float] = (0.5, 0.999)) -> dict[str, Part]:
    """Move each network to ``device`` and give it an Adam(lr, betas) optimiser named
    ``optimiser_<network>``: the parts a :class:`TrainingRun` saves and restores."""
    parts: dict[str, Part] = {}
    for name, network in networks.items():
        parts[name] = network.to(device)
    for name, network in networks.items():
        parts[OPTIMISER_PREFIX + name] = torch.optim.Adam(network.parameters(), lr=lr, betas=betas)
    return parts


def save_progress(progress: ProgressFile, parts: Mapping[str, Part], history: History, step: int) -> None:
    """Write ``progress`` in the schema above: ``parts`` as they are now, ``history``, ``step`` steps done and
    torch's random state. A :class:`TrainingRun` over the same parts resumes from it — which is also how a
    training *continues* a finished model (its parts, with fresh optimisers, after its steps)."""
    progress.save({"parts": {name: part.state_dict() for name, part in parts.items()},
                   "history": history, "step": step, "rng": torch.get_rng_state()})


class TrainingRun:
    """Iterate the steps of a resumable training (module docstring).

    Args:
        parts: networks and optimisers by name (optimisers' names start with ``optimiser_``); a network may
            also be any module with state to keep, e.g. :class:`gancourse.train.gan.Snapshots`.
        total: steps (or epochs) to reach; a resumed run counts those already done.
        progress: where the state is saved and resumed from (None: not resumable).
        save_every: save after every this many steps (and in :meth:`finish`).
        description: the progress bar's label.
        progress_bar: show a tqdm bar (never when :func:`progress_bars_enabled` is False).
    """

    def __init__(self, parts: Mapping[str, Part], total: int, *, progress: ProgressFile | None = None,
                 save_every: int = 100, description: str = "training", progress_bar: bool = True) -> None:
        check_count("total", total, minimum=0)
        check_count("save_every", save_every)
        for name, part in parts.items():
            if isinstance(part, torch.optim.Optimizer) != name.startswith(OPTIMISER_PREFIX):
                raise ValueError(f"part {name!r}: optimisers, and only they, are named '{OPTIMISER_PREFIX}<what>'")
        self.parts, self.total, self.progress, self.save_every = dict(parts), total, progress, save_every
        self.description, self.show_bar = description, progress_bar and progress_bars_enabled()
        self.history: History = {}
        self.step = 0
        self._stopping = False
        self._resume()

    def _resume(self) -> None:
        state = self.progress.load() if self.progress is not None else None
        if state is None:
            return
        if set(state) != SCHEMA_KEYS or set(state["parts"]) != set(self.parts):
            warnings.warn(f"starting {self.progress.name!r} afresh: its progress file has another layout "
                          f"(keys {sorted(state)}, parts {sorted(state.get('parts', {}))})", CheckpointWarning,
                          stacklevel=3)
            return
        for name, part in self.parts.items():
            part.load_state_dict(state["parts"][name])
        self.history = {key: list(values) for key, values in state["history"].items()}
        self.step = int(state["step"])
        torch.set_rng_state(state["rng"])

    def __iter__(self) -> Iterator[int]:
        bar = None
        if self.show_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total, initial=self.step, desc=self.description, leave=False)
        try:
            while self.step < self.total and not self._stopping:
                yield self.step
                self.step += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({key: f"{values[-1]:.3f}" for key, values in list(self.history.items())[:2]},
                                    refresh=False)
                if self.step % self.save_every == 0:
                    self.save()
        finally:
            if bar is not None:
                bar.close()

    def stop(self) -> None:
        """End the run once the current step is done (an early-stopping rule; leave the ``for`` loop with
        this, not with ``break``, so that the step counts as done)."""
        self._stopping = True

    def log(self, **values: float | torch.Tensor) -> None:
        """Append one step's statistics (tensors are turned into floats) to the history."""
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value.item() if isinstance(value, torch.Tensor) else value))

    def save(self) -> None:
        """Save the parts, history, step and random state to the progress file (atomically), if any."""
        if self.progress is not None:
            save_progress(self.progress, self.parts, self.history, self.step)

    def finish(self, *networks: nn.Module) -> History:
        """Save the final state, leave ``networks`` in eval mode and return the history."""
        self.save()
        for network in networks:
            network.eval()
        return self.history
