"""Defense-GAN projection throughput: all images × restarts as one batch vs a per-image loop.

    .venv/bin/python benchmarks/defense_gan.py [--images 20] [--steps 50] [--restarts 4] [--device cpu]

Both run the same code (``gancourse.defenses.defense_gan.project``) on the same generator (the paper's
WGAN-GP generator, freshly initialised: speed does not depend on the weights), the same Fashion-MNIST
test images and the same random starts, in one process; the loop calls it with one image at a time.
Prints images per second for both, the ratio, and the largest difference between the reconstructions.
"""

from __future__ import annotations

import argparse
import time

import torch

from gancourse.data import make_loaders
from gancourse.defenses.defense_gan import initial_latents, project
from gancourse.models.wgan_gp import WGANGPGenerator
from gancourse.profiles import PROFILES
from gancourse.runtime import describe_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--restarts", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    generator = WGANGPGenerator(128).to(device)
    images = make_loaders("fashion-mnist", PROFILES["smoke"], seed=0).test_images[:args.images].to(device)
    starts = initial_latents(len(images), args.restarts, 128, generator=torch.Generator().manual_seed(0))
    settings = {"steps": args.steps}

    started = time.perf_counter()
    batched = project(generator, images, starts, **settings)
    batched_seconds = time.perf_counter() - started
    started = time.perf_counter()
    looped = [project(generator, images[i:i + 1], starts[i:i + 1], **settings) for i in range(len(images))]
    loop_seconds = time.perf_counter() - started
    difference = (batched.reconstructions - torch.cat([p.reconstructions for p in looped])).abs().max().item()
    n = len(images)
    print(f"{n} images, L = {args.steps}, R = {args.restarts}, {describe_device(device)}")
    print(f"batched: {n / batched_seconds:8.2f} images/s   per-image loop: {n / loop_seconds:8.2f} images/s   "
          f"ratio {loop_seconds / batched_seconds:.1f}   max |Δ reconstruction| = {difference:.1e}")


if __name__ == "__main__":
    main()
