"""Attack throughput: gancourse vs torchattacks, and batched vs a per-image loop, in one process.

    .venv/bin/python benchmarks/attacks.py [--images 200] [--model A] [--dataset fashion-mnist]

For each attack, both implementations run on the same model, images and settings; the table gives
images per second, the ratio (ours / theirs; > 1 means ours is faster) and whether the results agree:
identical images (FGSM, PGD without random start), or success rates within a stated margin where the
algorithms differ in details (DeepFool, JSMA, C&W). DeepFool and JSMA are also run one image at a time
with the same code, to show what batching buys. The model is trained briefly on the offline data (not
the book's checkpoint store), so the benchmark needs nothing but the dataset. Needs torchattacks
(installed for tests: pip install --no-deps torchattacks).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from gancourse.attacks import FGSM, JSMA, PGD, CarliniWagnerL2, DeepFool
from gancourse.data import make_loaders
from gancourse.evaluate import accuracy, attack_success_rate
from gancourse.models.classifiers import build_classifier
from gancourse.profiles import PROFILES
from gancourse.runtime import describe_device
from gancourse.train.classifier import train_classifier


def timed(run: Callable[[], torch.Tensor], repeats: int = 1) -> tuple[torch.Tensor, float]:
    """The last result and the best wall time over ``repeats`` runs."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return result, best


def per_image(attack: Callable[..., torch.Tensor], x: torch.Tensor, **labels: torch.Tensor) -> torch.Tensor:
    return torch.cat([attack(x[i:i + 1], **{k: v[i:i + 1] for k, v in labels.items()}) for i in range(len(x))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--model", default="A")
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()
    import torchattacks

    torch.manual_seed(0)
    profile = PROFILES["cpu"]
    bundle = make_loaders(args.dataset, profile, seed=0)
    model = build_classifier(args.model)
    train_classifier(model, bundle.train_loader, epochs=1)
    model.eval()
    x, y = bundle.test_images[:args.images], bundle.test_labels[:args.images]
    t = (y + 1) % 10
    eps = bundle.info.linf_budget
    print(f"model {args.model} (accuracy {accuracy(model, x, y):.3f}), {len(x)} {args.dataset} test images, "
          f"ε = {eps}, {describe_device(torch.device('cpu'))}\n")
    rows = []

    def compare(name, ours, theirs, agree, repeats=1):
        ours_result, ours_seconds = timed(ours, repeats)
        theirs_result, theirs_seconds = timed(theirs, repeats)
        rows.append((name, len(x) / ours_seconds, len(x) / theirs_seconds, agree(ours_result, theirs_result)))

    same = lambda a, b: f"max |Δ| = {(a - b).abs().max().item():.1e}"
    success = lambda target=None: (lambda a, b: f"success {attack_success_rate(model, x, a, y, target):.3f} vs "
                                   f"{attack_success_rate(model, x, b, y, target):.3f}")
    # every attack object is built once, outside the timed calls, for both libraries
    fgsm, their_fgsm = FGSM(model, eps), torchattacks.FGSM(model, eps=eps)
    compare("FGSM", lambda: fgsm(x, y), lambda: their_fgsm(x, y), same, 5)
    pgd = PGD(model, eps, 20, alpha=eps / 8, random_start=False)
    their_pgd = torchattacks.PGD(model, eps=eps, alpha=eps / 8, steps=20, random_start=False)
    compare("PGD-20, no random start", lambda: pgd(x, y), lambda: their_pgd(x, y), same)
    deepfool, their_deepfool = DeepFool(model, 50, 0.02), torchattacks.DeepFool(model, steps=50, overshoot=0.02)
    compare("DeepFool (50 steps, overshoot 0.02)", lambda: deepfool(x, y), lambda: their_deepfool(x, y), success())
    jsma = JSMA(model, 1.0, 0.1)
    compare("JSMA (θ = 1, γ = 0.1), targeted", lambda: jsma(x, target=t),
            lambda: torchattacks.JSMA(model, theta=1.0, gamma=0.1)(x, y), success(t))  # theirs aims at (y + 1) % 10 = t
    compare("C&W-L2 (100 steps, 1 search step, c = 1)",
            lambda: CarliniWagnerL2(model, steps=100, search_steps=1, initial_const=1.0, lr=0.01)(x, y),
            lambda: torchattacks.CW(model, c=1.0, kappa=0, steps=100, lr=0.01)(x, y), success())
    print(f"{'attack':42s} {'ours img/s':>11s} {'torchattacks':>13s} {'ratio':>7s}  agreement")
    for name, ours, theirs, agreement in rows:
        print(f"{name:42s} {ours:11.1f} {theirs:13.1f} {ours / theirs:7.2f}  {agreement}")

    print(f"\n{'batched vs per-image loop (same code)':42s} {'batched':>11s} {'loop':>13s} {'ratio':>7s}")
    subset = slice(0, min(len(x), 50))
    for name, attack, labels in (("DeepFool", DeepFool(model, 50, 0.02), {"labels": y[subset]}),
                                 ("JSMA, targeted", JSMA(model, 1.0, 0.1), {"target": t[subset]})):
        batched, batched_seconds = timed(lambda a=attack, k=labels: a(x[subset], **k))
        looped, loop_seconds = timed(lambda a=attack, k=labels: per_image(a, x[subset], **k))
        n = len(x[subset])
        print(f"{name:42s} {n / batched_seconds:11.1f} {n / loop_seconds:13.1f} "
              f"{loop_seconds / batched_seconds:7.1f}  max |Δ| = {(batched - looped).abs().max().item():.1e}")


if __name__ == "__main__":
    main()
