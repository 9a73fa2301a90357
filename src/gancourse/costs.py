"""What the book's heavy loops cost: floating-point operations counted by PyTorch, and the time they predict.

Each :class:`Workload` is one unit of a loop the chapters run — a training step of a model at the batch the
book uses, one generator pass of Defense-GAN's projection for one image, one PGD step for one image — with
its FLOPs counted with PyTorch's own formulas (:mod:`torch.utils.flop_counter`) while the package's own code runs it
on small real inputs (so the count follows the code, not a formula that could drift). A matrix multiply of
an m×k by a k×n matrix counts 2·m·k·n (a multiply and an add); element-wise work (activations, the optimiser's
update) is not counted, so the counts are a floor dominated by the convolutions and linear layers.

A predicted time is ``flops / (peak · efficiency)``: :data:`DEVICE_PEAKS` holds the vendors' published
dense fp32 / TF32 rates, and the efficiency — the fraction of peak a loop of small 28×28 convolutions really
reaches — is measured where a device is at hand (``gancourse costs --measure`` on this CPU against a large
matrix multiply in the same process) and otherwise assumed (:data:`ASSUMED_GPU_EFFICIENCY`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import flop_registry

from gancourse.models.classifiers import CLASSIFIERS, build_classifier
from gancourse.models.wgan_gp import WGANGPCritic, WGANGPGenerator
from gancourse.train.classifier import train_classifier
from gancourse.train.gan import GANSetup, train_gan
from gancourse.train.loop import endless

DEVICE_PEAKS = {  # dense FLOP/s from the vendors' data sheets: fp32 on the CUDA cores, TF32 on the tensor cores
    "T4": {"fp32": 8.1e12, "tf32": None},
    "L4": {"fp32": 30.3e12, "tf32": 60.0e12},
    "A100": {"fp32": 19.5e12, "tf32": 156e12},
    "H100 SXM": {"fp32": 67e12, "tf32": 494.7e12},
    "H200": {"fp32": 67e12, "tf32": 494.7e12},
}
ASSUMED_GPU_EFFICIENCY = 0.2
"""The fraction of peak assumed for the book's small-image loops on a GPU until measured (batches of 28×28
images keep a large GPU far from its peak); `gancourse gpu-check` replaces it with a measurement."""


@dataclasses.dataclass(frozen=True)
class Workload:
    """One unit of a loop: its ``name``, what a ``unit`` is, the FLOPs it costs, and ``run`` (one more unit of
    the same work, for timing it)."""

    name: str
    unit: str
    flops: int
    run: Callable[[], object] = dataclasses.field(repr=False, compare=False)
    operations: int = 0

    @classmethod
    def counted(cls, name: str, unit: str, run: Callable[[], object]) -> Workload:
        """The workload whose unit is ``run()``, with its FLOPs and operations counted by running it once."""
        flops, operations = count_work(run)
        return cls(name, unit, flops, run, operations)

    def seconds(self, units: float, peak: float, efficiency: float) -> float:
        """Predicted seconds for ``units`` units at ``efficiency`` × ``peak`` FLOP/s."""
        if peak <= 0 or not 0 < efficiency <= 1:
            raise ValueError(f"peak must be positive and efficiency in (0, 1], got {peak} and {efficiency}")
        return units * self.flops / (peak * efficiency)


class _FlopCounting(TorchDispatchMode):
    """Adds up PyTorch's FLOP formulas (:data:`torch.utils.flop_counter.flop_registry`) for every operation
    dispatched, and counts the operations. FlopCounterMode itself cannot be used: its module tracker fails on
    ``torch.autograd.grad`` with respect to a leaf, which the gradient penalty takes."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.operations = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204 (torch's protocol)
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.operations += 1
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += int(formula(*args, **kwargs, out_val=out))
        return out


def count_work(run: Callable[[], object]) -> tuple[int, int]:
    """(FLOPs, operations) that ``run()`` dispatches: PyTorch's FLOP formulas summed over its forward and backward
    passes, and the number of tensor operations (each one a kernel launch on a GPU)."""
    with _FlopCounting() as counter:
        run()
    return counter.total, counter.operations


def count_flops(run: Callable[[], object]) -> int:
    """The FLOPs PyTorch's formulas count while ``run()`` executes (forward and backward passes)."""
    return count_work(run)[0]


def _images(count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    random = torch.Generator().manual_seed(seed)
    return torch.rand(count, 1, 28, 28, generator=random), torch.randint(0, 10, (count,), generator=random)


def classifier_step(name: str, batch: int, device: torch.device | str = "cpu") -> Workload:
    """One Adam step of classifier ``name`` on a batch of ``batch`` images (:func:`train_classifier`)."""
    images, labels = _images(batch)
    loader = DataLoader(TensorDataset(images, labels), batch_size=batch)
    model = build_classifier(name).to(device)
    return Workload.counted(f"classifier {name}: training step", f"batch of {batch}",
                            lambda: train_classifier(model, loader, 1, device=device))


def wgan_gp_step(batch: int = 50, device: torch.device | str = "cpu") -> Workload:
    """One generator step of the Defense-GAN paper's WGAN-GP: 5 critic steps with the gradient penalty, then
    one generator step (:func:`train_gan`), batch ``batch``."""
    torch.manual_seed(0)
    generator, critic = WGANGPGenerator(128).to(device), WGANGPCritic().to(device)
    setup = GANSetup(generator, critic, torch.optim.Adam(generator.parameters(), 1e-4, betas=(0.5, 0.9)),
                     torch.optim.Adam(critic.parameters(), 1e-4, betas=(0.5, 0.9)), loss="wasserstein", d_steps=5,
                     gradient_penalty_weight=10.0)
    batches = endless(DataLoader(TensorDataset(*_images(batch)), batch_size=batch))
    return Workload.counted("WGAN-GP: generator step", f"5 critic steps + 1 generator step, batch {batch}",
                            lambda: train_gan(setup, batches, 1, device=device, progress_bar=False))


def projection_pass(batch: int = 1, latent_dim: int = 128, device: torch.device | str = "cpu") -> Workload:
    """One step of Defense-GAN's projection for ``batch`` (image, restart) pairs: G(z) and the gradient of
    ‖G(z) − x‖² with respect to z (projecting an image costs L·R of them)."""
    generator = WGANGPGenerator(latent_dim).to(device).eval().requires_grad_(False)
    z = torch.zeros(batch, latent_dim, device=device, requires_grad=True)
    target = _images(batch)[0].to(device)

    def step() -> None:
        torch.autograd.grad((generator(z) - target).pow(2).mean(), z)

    return Workload.counted("Defense-GAN: projection step", f"{batch} image-restart pair(s)", step)


def pgd_step(name: str = "A", batch: int = 1, device: torch.device | str = "cpu") -> Workload:
    """One PGD step against classifier ``name`` for ``batch`` images: a forward pass and the input gradient."""
    model = build_classifier(name).to(device).eval().requires_grad_(False)
    images, labels = (tensor.to(device) for tensor in _images(batch))
    images.requires_grad_(True)

    def step() -> None:
        torch.autograd.grad(nn.functional.cross_entropy(model(images), labels), images)

    return Workload.counted(f"PGD step against classifier {name}", f"{batch} image(s)", step)


def book_workloads(batch: int = 64, per_image_batch: int = 256, device: torch.device | str = "cpu",
                   ) -> list[Workload]:
    """The workloads the chapters' heavy loops are made of, counted now: training steps at ``batch`` (the
    WGAN-GP at the paper's 50), projection and PGD steps over ``per_image_batch`` images at once (as the
    chapters batch them)."""
    return [*(classifier_step(name, batch, device) for name in CLASSIFIERS), wgan_gp_step(device=device),
            projection_pass(per_image_batch, device=device), pgd_step("A", per_image_batch, device)]


def achieved_rate(run: Callable[[], object], flops: int, repeats: int = 3,
                  device: torch.device | str = "cpu") -> float:
    """FLOP/s that ``run()`` (costing ``flops``) reaches on ``device``: the best of ``repeats`` timings after
    one warm-up run (on a GPU, with the queue drained before and after each)."""
    return flops / best_seconds(run, repeats, device)


def best_seconds(run: Callable[[], object], repeats: int = 3, device: torch.device | str = "cpu") -> float:
    """The shortest of ``repeats`` timings of ``run()`` after one warm-up run (on a GPU, with the queue
    drained before and after each)."""
    run()
    return min(_timed(run, torch.device(device)) for _ in range(repeats))


def _timed(run: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - started


def matmul_rate(size: int = 1024, device: torch.device | str = "cpu") -> float:
    """FLOP/s of a ``size``×``size`` float32 matrix multiply on ``device``: the baseline a loop's rate is
    compared with (what the device reaches on the most favourable work)."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    return achieved_rate(lambda: a @ b, 2 * size ** 3, device=device)


def gpu_peak(device: str) -> float:
    """The peak a chapter's loops can use on ``device``: TF32 where the card has it (PyTorch runs convolutions
    in TF32 by default on such cards), else fp32."""
    peaks = DEVICE_PEAKS[device]
    return peaks["tf32"] or peaks["fp32"]


def costs_table(workloads: list[Workload], measure: bool = False) -> str:
    """A text table: each workload's GFLOP per unit and predicted ms per unit on :data:`DEVICE_PEAKS`' cards at
    :data:`ASSUMED_GPU_EFFICIENCY`; with ``measure``, also the rate it reaches on this CPU, as GFLOP/s and as a
    share of a large matrix multiply's rate measured in the same process."""
    baseline = matmul_rate() if measure else None
    header = f"{'workload':38s} {'unit':42s} {'GFLOP':>8s}" + "".join(f" {name + ' ms':>11s}" for name in DEVICE_PEAKS)
    if baseline is not None:
        header += f" {'CPU GFLOP/s':>12s} {'of matmul':>9s}"
    lines = [header]
    for work in workloads:
        line = f"{work.name[:38]:38s} {work.unit[:42]:42s} {work.flops / 1e9:8.3f}" + "".join(
            f" {1000 * work.seconds(1, gpu_peak(name), ASSUMED_GPU_EFFICIENCY):11.3f}" for name in DEVICE_PEAKS)
        if baseline is not None:
            rate = achieved_rate(work.run, work.flops)
            line += f" {rate / 1e9:12.1f} {rate / baseline:9.0%}"
        lines.append(line)
    if baseline is not None:
        lines.append(f"baseline: a 1024×1024 float32 matrix multiply reaches {baseline / 1e9:.1f} GFLOP/s here")
    return "\n".join(lines)
