"""The Defense-GAN paper's classifiers A–E for 28×28×1 images in [0, 1] (Samangouei et al. 2018, Table 1).

``conv(f, k, s, p)`` = f filters, k×k kernel, stride s, TensorFlow padding p (``same`` / ``valid``):

====  ==========================================================================================
A     conv(64,5,1,same)-ReLU-conv(64,5,2,valid)-ReLU-flatten-dropout-FC128-ReLU-dropout-FC10
B     dropout-conv(64,8,2,same)-ReLU-conv(128,6,2,valid)-ReLU-conv(128,5,1,valid)-ReLU-dropout-flatten-FC10
C     conv(128,3,1,same)-ReLU-conv(64,5,2,valid)-ReLU-flatten-dropout-FC128-ReLU-dropout-FC10
D     flatten-FC200-ReLU-dropout-FC200-ReLU-FC10
E     flatten-FC200-ReLU-FC200-ReLU-FC10 (the black-box attacker's substitute)
====  ==========================================================================================

Dropout, chosen on purpose: the numbers (0.25 and 0.5 in A and C, 0.2 and 0.5 in B, 0.5 in D) are
used as PyTorch's *drop* probabilities, the meaning of the Keras models these architectures come from.
The paper's released TF1 code passes the same numbers as *keep* probabilities (dropping 75% of A's
activations), which we read as a slip rather than a design. Models output logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gancourse.validation import check_image_shape, check_model_input


def model_a() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 64, 5, stride=1, padding=2), nn.ReLU(),      # 64×28×28 ('same')
        nn.Conv2d(64, 64, 5, stride=2), nn.ReLU(),                # 64×12×12 ('valid')
        nn.Flatten(), nn.Dropout(0.25),                           # 9216
        nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def model_b() -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(0.2),
        nn.Conv2d(1, 64, 8, stride=2, padding=3), nn.ReLU(),      # 64×14×14 ('same': TF pads 3 + 3)
        nn.Conv2d(64, 128, 6, stride=2), nn.ReLU(),               # 128×5×5 ('valid')
        nn.Conv2d(128, 128, 5, stride=1), nn.ReLU(),              # 128×1×1 ('valid')
        nn.Dropout(0.5), nn.Flatten(),
        nn.Linear(128, 10),
    )


def model_c() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 128, 3, stride=1, padding=1), nn.ReLU(),     # 128×28×28 ('same')
        nn.Conv2d(128, 64, 5, stride=2), nn.ReLU(),               # 64×12×12 ('valid')
        nn.Flatten(), nn.Dropout(0.25),
        nn.Linear(64 * 12 * 12, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )


def model_d() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 200), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(200, 200), nn.ReLU(),
        nn.Linear(200, 10),
    )


def model_e() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 200), nn.ReLU(),
        nn.Linear(200, 200), nn.ReLU(),
        nn.Linear(200, 10),
    )


CLASSIFIERS: dict[str, Callable[[], nn.Sequential]] = {
    "A": model_a, "B": model_b, "C": model_c, "D": model_d, "E": model_e,
}


def build_classifier(name: str) -> nn.Sequential:
    """A freshly initialised classifier ``A``–``E`` (logits for 10 classes, input N×1×28×28 in [0, 1])."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}")
    model = CLASSIFIERS[name]()
    model.register_forward_pre_hook(_expects_28x28_grey(f"classifier {name}"))
    return model


def _expects_28x28_grey(model_name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
    """A forward pre-hook that names the expected input instead of PyTorch's "mat1 and mat2 shapes" error:
    shape and dtype on every call, NaN and the [0, 1] range in eval mode (see ``check_model_input``)."""
    def check(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        check_image_shape(inputs[0], (1, 28, 28), model_name)
        check_model_input(model, inputs[0], f"the input of {model_name}")
    return check
