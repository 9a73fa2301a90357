"""One prepared check of the book's heavy loops on a GPU (``gancourse gpu-check``), sized for a few minutes.

On one CUDA device it runs every workload of :func:`gancourse.costs.book_workloads` for a few units, measures
seconds per unit and the fraction of the card's peak reached, and compares them with the cost model's
prediction; then the Defense-GAN projection three ways (plain float32, under autocast to bfloat16, and with
the generator compiled by ``torch.compile``), and the paper's projection (L = 200, R = 10) on a batch of
images, extrapolated to 10,000. It writes ``gpu_check.json`` and ``gpu_check.txt``. Without CUDA it stops
at once with a message saying so; ``smoke=True`` runs the same code at toy sizes (on the CPU in the tests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gancourse.costs import (
    ASSUMED_GPU_EFFICIENCY,
    DEVICE_PEAKS,
    achieved_rate,
    best_seconds,
    book_workloads,
    gpu_peak,
    matmul_rate,
)
from gancourse.defenses.defense_gan import DefenseGAN
from gancourse.files import output_folder
from gancourse.models.wgan_gp import WGANGPGenerator
from gancourse.runtime import describe_device

PAPER_PROJECTION = (200, 10)  # L, R of the Defense-GAN paper
PROJECTED_IMAGES = 10_000     # the test set the gpu profile projects


def card(device: torch.device) -> str | None:
    """The :data:`gancourse.costs.DEVICE_PEAKS` entry whose name the CUDA device's name contains, else None."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((key for key in DEVICE_PEAKS if key.split()[0] in name), None)


def _projection_variants(device: torch.device, images: int, repeats: int, compile_model: bool) -> dict[str, float]:
    """Seconds per projection step (G(z) and ∇_z of the error) for ``images`` latents: plain, bf16 autocast,
    and compiled."""
    generator = WGANGPGenerator(128).to(device).eval().requires_grad_(False)
    z = torch.zeros(images, 128, device=device, requires_grad=True)
    target = torch.rand(images, 1, 28, 28, device=device)

    def step(network: torch.nn.Module, autocast: bool = False) -> Callable[[], object]:
        def run() -> object:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                error = (network(z).float() - target).pow(2).mean()
            return torch.autograd.grad(error, z)
        return run

    results = {"float32": best_seconds(step(generator), repeats, device),
               "bfloat16 autocast": best_seconds(step(generator, autocast=True), repeats, device)}
    if compile_model:
        results["torch.compile"] = best_seconds(step(torch.compile(generator)), repeats, device)
    return results


def run_gpu_check(device: torch.device | str = "cuda", *, smoke: bool = False,
                  output: str | Path = "gpu-check") -> dict[str, Any]:
    """Run the check on ``device`` (module docstring), write ``gpu_check.json`` and ``gpu_check.txt`` into the
    folder ``output`` and return the results.

    Raises:
        RuntimeError: ``device`` is a CUDA device and CUDA is not available (nothing is run or written).
    """
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("gpu-check needs a CUDA GPU and torch.cuda.is_available() is False here; run it on a "
                           "GPU machine (or pass --device cpu --smoke to try the code path)")
    folder = output_folder(output)
    started = time.perf_counter()
    name = card(device)
    peak = gpu_peak(name) if name else None
    repeats = 1 if smoke else 5
    workloads = book_workloads(batch=8 if smoke else 64, per_image_batch=4 if smoke else 2048, device=device)
    rows = []
    for work in workloads:
        rate = achieved_rate(work.run, work.flops, repeats, device)
        rows.append({"workload": work.name, "unit": work.unit, "flops": work.flops,
                     "measured_seconds": work.flops / rate, "gflops_per_second": rate / 1e9,
                     "predicted_seconds": work.seconds(1, peak, ASSUMED_GPU_EFFICIENCY) if peak else None,
                     "efficiency": rate / peak if peak else None})
    steps, restarts = (2, 2) if smoke else PAPER_PROJECTION
    images = 4 if smoke else 256
    generator = WGANGPGenerator(128).to(device).eval()
    defense = DefenseGAN(generator, 128, steps=steps, restarts=restarts, chunk=images, seed=0)
    batch = torch.rand(images, 1, 28, 28, device=device)
    projection = best_seconds(lambda: defense.project(batch), 1, device)
    results = {
        "device": describe_device(device), "card": name, "peak_flops": peak, "torch": torch.__version__,
        "smoke": smoke, "matmul_gflops_per_second": matmul_rate(256 if smoke else 4096, device) / 1e9,
        "assumed_efficiency": ASSUMED_GPU_EFFICIENCY, "workloads": rows,
        "projection_step_seconds": _projection_variants(device, 4 if smoke else 2560, repeats,
                                                        compile_model=not smoke),
        "paper_projection": {"steps": steps, "restarts": restarts, "images": images, "seconds": projection,
                             "seconds_for_10000_images": projection * PROJECTED_IMAGES / images},
    }
    results["wall_seconds"] = time.perf_counter() - started
    (folder / "gpu_check.json").write_text(json.dumps(results, indent=1))
    (folder / "gpu_check.txt").write_text(gpu_check_table(results) + "\n")
    return results


def gpu_check_table(results: dict[str, Any]) -> str:
    """The check's results as text: one line per workload, then the projection's variants and the paper's run."""
    lines = [f"{results['device']} ({results['card'] or 'card not in the cost model'}), torch {results['torch']}"
             + (" — smoke sizes" if results["smoke"] else ""),
             f"{'workload':38s} {'unit':32s} {'measured ms':>12s} {'predicted ms':>13s} {'of peak':>8s}"]
    for row in results["workloads"]:
        predicted = f"{1000 * row['predicted_seconds']:13.3f}" if row["predicted_seconds"] else f"{'-':>13s}"
        efficiency = f"{row['efficiency']:8.1%}" if row["efficiency"] else f"{'-':>8s}"
        lines.append(f"{row['workload'][:38]:38s} {row['unit'][:32]:32s} {1000 * row['measured_seconds']:12.3f} "
                     f"{predicted} {efficiency}")
    lines.append("projection step, seconds: " + ", ".join(f"{key} {value:.4f}" for key, value in
                                                         results["projection_step_seconds"].items()))
    paper = results["paper_projection"]
    lines.append(f"projection L = {paper['steps']}, R = {paper['restarts']}: {paper['seconds']:.2f} s for "
                 f"{paper['images']} images, {paper['seconds_for_10000_images'] / 60:.1f} min for 10,000")
    lines.append(f"matrix multiply: {results['matmul_gflops_per_second']:.0f} GFLOP/s; check took "
                 f"{results['wall_seconds']:.0f} s")
    return "\n".join(lines)
