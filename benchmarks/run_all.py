"""Every benchmark of the book in one run, printed as one table of ratios measured in this process.

    .venv/bin/python benchmarks/run_all.py [--images 200] [--device cpu|cuda] [--only GROUP ...]

Groups (each runs in its own subprocess, so its peak memory is its own):

* ``attacks``    ours vs torchattacks, same model, images and settings (identical images or success rates)
* ``batching``   batched vs per-image loops of the same code: DeepFool, JSMA, Defense-GAN's projection
* ``generation`` AdvGAN / AI-GAN generation per example vs FGSM, PGD-20 and C&W-L2 on the same images
* ``gan-steps``  training steps per second of each GAN of the book (DCGAN, WGAN-GP, cGAN, CycleGAN,
                 StyleGAN, AdvGAN, AI-GAN, APE-GAN) at the batch sizes the chapters use
* ``pytorch``    what PyTorch's features buy: inference_mode vs autograd, torch.compile (falls back and says
                 so when it cannot compile), DataLoader workers, and on CUDA channels_last and AMP

The classifier is trained for one epoch on the offline Fashion-MNIST (not the checkpoint store), so the
harness needs nothing but the dataset; generators are freshly initialised (speed does not depend on the
weights). Times are best-of-N wall times; absolute numbers are only meaningful with the hardware line
printed above the table. Needs torchattacks for the ``attacks`` group (installed for the tests).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Row, format_table, timed  # noqa: E402

from gancourse.data import make_loaders  # noqa: E402
from gancourse.profiles import PROFILES  # noqa: E402
from gancourse.runtime import describe_device  # noqa: E402


def attack_rows(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> list[Row]:
    import torchattacks

    from gancourse.attacks import FGSM, JSMA, PGD, CarliniWagnerL2, DeepFool
    from gancourse.evaluate import attack_success_rate

    rows = []
    target = (y + 1) % 10
    same = lambda a, b: f"max |Δ| = {(a - b).abs().max().item():.1e}"  # noqa: E731
    success = lambda goal=None: (lambda a, b: f"success {attack_success_rate(model, x, a, y, goal):.3f} "  # noqa: E731
                                 f"vs {attack_success_rate(model, x, b, y, goal):.3f}")
    cases = [
        ("FGSM", FGSM(model, eps), torchattacks.FGSM(model, eps=eps), {}, same, 5),
        ("PGD-20, no random start", PGD(model, eps, 20, alpha=eps / 8, random_start=False),
         torchattacks.PGD(model, eps=eps, alpha=eps / 8, steps=20, random_start=False), {}, same, 1),
        ("DeepFool (50 steps, overshoot 0.02)", DeepFool(model, 50, 0.02),
         torchattacks.DeepFool(model, steps=50, overshoot=0.02), {}, success(), 1),
        ("JSMA (θ = 1, γ = 0.1) to y + 1", JSMA(model, 1.0, 0.1), torchattacks.JSMA(model, theta=1.0, gamma=0.1),
         {"target": target}, success(target), 1),
        ("C&W-L2 (100 steps, c = 1)", CarliniWagnerL2(model, steps=100, search_steps=1, initial_const=1.0, lr=0.01),
         torchattacks.CW(model, c=1.0, kappa=0, steps=100, lr=0.01), {}, success(), 1),
    ]
    for name, ours, theirs, goal, agree, repeats in cases:
        mine, our_seconds = timed(lambda a=ours, g=goal: a(x, target=g["target"]) if g else a(x, y), repeats)
        other, their_seconds = timed(lambda a=theirs: a(x, y), repeats)   # torchattacks' JSMA aims at y + 1 itself
        rows.append(Row("attacks", name, "torchattacks", their_seconds, "gancourse", our_seconds, len(x),
                        agree(mine, other)))
    return rows


def per_image(attack: Callable[..., torch.Tensor], x: torch.Tensor, **labels: torch.Tensor) -> torch.Tensor:
    return torch.cat([attack(x[i:i + 1], **{k: v[i:i + 1] for k, v in labels.items()}) for i in range(len(x))])


def batching_rows(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> list[Row]:
    from gancourse.attacks import JSMA, DeepFool
    from gancourse.defenses.defense_gan import initial_latents, project
    from gancourse.models.wgan_gp import WGANGPGenerator

    rows = []
    subset, labels, target = x[:50], y[:50], ((y + 1) % 10)[:50]
    for name, attack, goal in (("DeepFool", DeepFool(model, 50, 0.02), {"labels": labels}),
                               ("JSMA, targeted", JSMA(model, 1.0, 0.1), {"target": target})):
        batched, batched_seconds = timed(lambda a=attack, g=goal: a(subset, **g))
        looped, loop_seconds = timed(lambda a=attack, g=goal: per_image(a, subset, **g))
        rows.append(Row("batching", name, "per-image loop", loop_seconds, "one batch", batched_seconds, len(subset),
                        f"max |Δ| = {(batched - looped).abs().max().item():.1e}"))
    generator = WGANGPGenerator(128).to(x.device)
    images = x[:20]
    starts = initial_latents(len(images), 4, 128, generator=torch.Generator().manual_seed(0)).to(x.device)
    batched, batched_seconds = timed(lambda: project(generator, images, starts, steps=50))
    looped, loop_seconds = timed(lambda: torch.cat([project(generator, images[i:i + 1], starts[i:i + 1], steps=50)
                                                    .reconstructions for i in range(len(images))]))
    rows.append(Row("batching", "Defense-GAN projection (L = 50, R = 4)", "per-image loop", loop_seconds,
                    "one batch", batched_seconds, len(images),
                    f"max |Δ| = {(batched.reconstructions - looped).abs().max().item():.1e}"))
    return rows


def generation_rows(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> list[Row]:
    from gancourse.attacks import FGSM, PGD, CarliniWagnerL2
    from gancourse.attacks.advgan import AdvGAN
    from gancourse.attacks.aigan import AIGAN
    from gancourse.models.advgan import PerturbationGenerator

    device = x.device
    advgan = AdvGAN(model, {"untargeted": PerturbationGenerator(1, eps).to(device).eval()})
    aigan = AIGAN(model, PerturbationGenerator(1, eps, num_classes=10).to(device).eval())
    target = (y + 1) % 10
    generated = {"AdvGAN": timed(lambda: advgan(x, y), 5, warmup=1)[1],
                 "AI-GAN": timed(lambda: aigan(x, target=target), 5, warmup=1)[1]}
    classic = {"FGSM": timed(lambda: FGSM(model, eps)(x, y), 5, warmup=1)[1],
               "PGD-20": timed(lambda: PGD(model, eps, 20)(x, y))[1],
               "C&W-L2 (100 steps)": timed(lambda: CarliniWagnerL2(model, steps=100, search_steps=1)(x[:50], y[:50]))[1]
               * len(x) / 50}
    return [Row("generation", f"{gan} vs {name}", name, seconds, gan, gan_seconds, len(x), "one forward pass")
            for gan, gan_seconds in generated.items() for name, seconds in classic.items()]


def gan_step_rows(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> list[Row]:
    from gancourse.attacks import FGSM
    from gancourse.attacks.advgan import train_advgan
    from gancourse.attacks.aigan import train_aigan
    from gancourse.defenses.ape_gan import train_ape_gan
    from gancourse.models.advgan import PerturbationDiscriminator, PerturbationGenerator
    from gancourse.models.ape_gan import APEDiscriminator, APEGenerator
    from gancourse.models.cyclegan import CycleGenerator, PatchDiscriminator
    from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
    from gancourse.models.stylegan import StyleDiscriminator, StyleGenerator
    from gancourse.models.wgan_gp import WGANGPCritic, WGANGPGenerator
    from gancourse.train.cyclegan import train_cyclegan
    from gancourse.train.gan import GANSetup, train_gan
    from gancourse.train.loop import endless
    from gancourse.train.stylegan import train_stylegan

    device = x.device
    data = torch.utils.data.TensorDataset(x.cpu(), y.cpu())
    loader = lambda batch: torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)  # noqa: E731
    steps = 10
    adam = lambda module, lr=2e-4, betas=(0.5, 0.999): torch.optim.Adam(module.parameters(), lr, betas=betas)  # noqa: E731

    def gan(G, D, batch, **options):
        G, D = G.to(device), D.to(device)
        setup = GANSetup(G, D, adam(G), adam(D), **options)
        return lambda: train_gan(setup, endless(loader(batch)), steps, device=device, progress_bar=False)

    def networks(**parts):
        return nn.ModuleDict(parts).to(device)

    runs = {
        "DCGAN (batch 64)": gan(DCGANGenerator(100, (1, 28, 28)), DCGANDiscriminator((1, 28, 28)), 64,
                                loss="non-saturating"),
        "cGAN (batch 64)": gan(DCGANGenerator(100, (1, 28, 28), num_classes=10),
                               DCGANDiscriminator((1, 28, 28), num_classes=10), 64, loss="non-saturating",
                               conditional=True),
        "WGAN-GP (batch 50, 5 critic steps)": gan(WGANGPGenerator(128), WGANGPCritic(), 50, loss="wasserstein",
                                                  d_steps=5, gradient_penalty_weight=10.0),
        "CycleGAN (batch 16)": lambda: train_cyclegan(
            networks(G_ab=CycleGenerator(1), G_ba=CycleGenerator(1), D_a=PatchDiscriminator(1),
                     D_b=PatchDiscriminator(1)), loader(16), loader(16), steps, device=device),
        "StyleGAN (batch 32)": lambda: train_stylegan(StyleGenerator(1).to(device), StyleDiscriminator(1).to(device),
                                                      loader(32), steps, device=device),
        "AdvGAN (batch 64)": lambda: train_advgan(PerturbationGenerator(1, eps).to(device),
                                                  PerturbationDiscriminator(1).to(device), model, loader(64), steps,
                                                  device=device),
        "AI-GAN (batch 64, PGD-3 attacker)": lambda: train_aigan(
            PerturbationGenerator(1, eps, num_classes=10).to(device),
            PerturbationDiscriminator(1, num_classes=10).to(device), model, loader(64), steps, attacker_eps=eps,
            attacker_steps=3, device=device),
        "APE-GAN (batch 64, FGSM inputs)": lambda: train_ape_gan(APEGenerator(1).to(device),
                                                                 APEDiscriminator(1).to(device), FGSM(model, eps),
                                                                 loader(64), steps, device=device),
    }
    rows = []
    for name, run in runs.items():
        torch.manual_seed(0)
        _, seconds = timed(run)
        rows.append(Row("gan-steps", name, "", None, f"{steps / seconds:.1f} steps/s", seconds, steps,
                        "ms per step (generator + discriminator update)"))
    return rows


def pytorch_rows(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> list[Row]:
    rows = []
    images = x.repeat(10, 1, 1, 1)[:2000]

    def forward():
        return model(images)

    _, plain_seconds = timed(forward, 5, warmup=1)            # autograd records the graph (weights need grad)
    with torch.no_grad():
        _, no_grad_seconds = timed(forward, 5, warmup=1)
    with torch.inference_mode():
        output, inference_seconds = timed(forward, 5, warmup=1)
    rows.append(Row("pytorch", "classifier inference: no_grad", "autograd on", plain_seconds, "no_grad",
                    no_grad_seconds, len(images)))
    rows.append(Row("pytorch", "classifier inference: inference_mode", "autograd on", plain_seconds,
                    "inference_mode", inference_seconds, len(images)))
    try:
        compiled = torch.compile(model)
        with torch.inference_mode():
            _, compile_seconds = timed(lambda: compiled(images))              # first call: compiles
            result, compiled_seconds = timed(lambda: compiled(images), 5)
        rows.append(Row("pytorch", f"torch.compile (compiling took {compile_seconds:.0f} s)", "eager",
                        inference_seconds, "compiled", compiled_seconds, len(images),
                        f"max |Δ logits| = {(result - output).abs().max().item():.1e}"))
    except Exception as error:  # no compiler toolchain, unsupported platform: say so, keep eager
        rows.append(Row("pytorch", "torch.compile", "eager", inference_seconds, "eager (fallback)",
                        inference_seconds, len(images), f"could not compile: {type(error).__name__}"))
    if x.is_cuda:
        channels_last = model.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            _, last_seconds = timed(lambda: channels_last(images.to(memory_format=torch.channels_last)), 5, warmup=1)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                _, amp_seconds = timed(forward, 5, warmup=1)
        model.to(memory_format=torch.contiguous_format)
        rows.append(Row("pytorch", "channels_last", "NCHW", inference_seconds, "channels_last", last_seconds,
                        len(images)))
        rows.append(Row("pytorch", "AMP (bfloat16 autocast)", "float32", inference_seconds, "bf16 autocast",
                        amp_seconds, len(images)))
    else:
        rows.append(Row("pytorch", "channels_last and AMP (bf16 autocast)", "", None, "not run", 1.0, 0,
                        "they need CUDA"))
    dataset = torch.utils.data.TensorDataset(x.cpu().repeat(50, 1, 1, 1), y.cpu().repeat(50))

    def epoch(workers: int) -> int:
        loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True, num_workers=workers)
        return sum(len(batch) for batch, _ in loader)

    _, serial_seconds = timed(lambda: epoch(0))
    _, worker_seconds = timed(lambda: epoch(2))
    rows.append(Row("pytorch", "DataLoader over in-memory tensors", "0 workers", serial_seconds, "2 workers",
                    worker_seconds, len(dataset), "same images; workers pay off only for slow decoding"))
    return rows


GROUPS = {"attacks": attack_rows, "batching": batching_rows, "generation": generation_rows,
          "gan-steps": gan_step_rows, "pytorch": pytorch_rows}


def run_group(name: str, state_path: str, images: int, device: str, queue: multiprocessing.Queue) -> None:
    """One group in a fresh process: its peak memory (max RSS on CPU, allocated on CUDA) is its own."""
    from gancourse.models.classifiers import build_classifier

    torch.manual_seed(0)
    bundle = make_loaders("fashion-mnist", PROFILES["cpu"], seed=0)
    model = build_classifier("A")
    model.load_state_dict(torch.load(state_path, weights_only=True))
    model = model.to(device).eval()
    x, y = bundle.test_images[:images].to(device), bundle.test_labels[:images].to(device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        rows = GROUPS[name](model, x, y, bundle.info.linf_budget)
    except Exception as error:  # reported by the parent, which would otherwise wait for rows forever
        queue.put(f"{type(error).__name__}: {error}")
        raise
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    for row in rows:
        row.peak_mb = peak
    queue.put(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", nargs="*", choices=list(GROUPS), default=list(GROUPS))
    args = parser.parse_args()
    if args.images < 50:
        parser.error("--images must be at least 50 (the batching and C&W rows use 50 images)")
    from gancourse.evaluate import accuracy
    from gancourse.models.classifiers import build_classifier
    from gancourse.train.classifier import train_classifier

    torch.manual_seed(0)
    bundle = make_loaders("fashion-mnist", PROFILES["cpu"], seed=0)
    model = build_classifier("A")
    train_classifier(model, bundle.train_loader, epochs=1)
    model.eval()
    test_accuracy = accuracy(model, bundle.test_images[:args.images], bundle.test_labels[:args.images])
    print(f"hardware: {describe_device(torch.device(args.device))}; torch {torch.__version__}; classifier A "
          f"(1 epoch, accuracy {test_accuracy:.3f} on the {args.images} Fashion-MNIST test images used)")
    print("ratio = baseline time / variant time (> 1: the variant is faster); peak MB = the group process's "
          f"{'peak CUDA allocation' if args.device == 'cuda' else 'peak resident memory'}\n")
    context = multiprocessing.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        state = str(Path(folder) / "classifier.pt")
        torch.save(model.state_dict(), state)
        for name in args.only:
            queue = context.Queue()
            process = context.Process(target=run_group, args=(name, state, args.images, args.device, queue))
            process.start()
            group_rows = queue.get()
            process.join()
            if isinstance(group_rows, str):
                raise SystemExit(f"benchmark group {name} failed: {group_rows}")
            rows += group_rows
            print(f"[{name} done]", flush=True)
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()
