"""AdvGAN (Xiao et al. 2018): train a generator to produce adversarial perturbations, then attack with one
forward pass and no access to the target model.

With x_adv = clip_[0,1](x + G(x)), a discriminator D telling x from x_adv, and the frozen target model f
(logits Z), the generator minimises

    L = L_adv + α·L_GAN + β·L_hinge
    L_adv   = E max(max_{j≠t} Z(x_adv)_j − Z(x_adv)_t, −κ)        towards t   (untargeted: Z_y − max_{j≠y} Z_j)
    L_GAN   = ½ E (D(x_adv) − 1)²                                   (least squares)
    L_hinge = E max(0, ‖G(x)‖₂ − c)

and D minimises ½ E (D(x) − 1)² + ½ E D(x_adv)². The target model stays frozen in eval mode throughout: its
dropout must not be active while the generator learns from it (a trap of a popular port).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from gancourse.attacks.base import Attack
from gancourse.attacks.cw import cw_margin
from gancourse.checkpoints import ProgressFile
from gancourse.losses import d_loss_least_squares, g_loss_least_squares
from gancourse.networks import frozen_eval, model_device
from gancourse.train.loop import History, TrainingRun, adam_parts, endless
from gancourse.validation import check_count, check_positive

Goal = Callable[[torch.Tensor], torch.Tensor]   # true labels y of a batch → the labels the loss uses


@dataclass(frozen=True)
class AdvGANWeights:
    """α, β, c and κ of the objective (the paper's values are not known; implementers use α, β ∈ {1, 5},
    c ∈ {0.1, 0.3} — here c is an ℓ2 bound, so it is set for the image size and the ℓ∞ budget: a perturbation
    in the ε-ball has ‖δ‖₂ ≤ ε√d, 2.8 for ε = 0.1 on 28×28, so the default c = 3 never lets the hinge act there
    (the book's recipes use c = 1.5, :data:`gancourse.zoo.attacks.ADVGAN_WEIGHTS`)."""

    alpha: float = 1.0
    beta: float = 1.0
    c: float = 3.0
    kappa: float = 0.0

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "c", "kappa"):
            check_positive(name, getattr(self, name), allow_zero=True)


DEFAULT_WEIGHTS = AdvGANWeights()


def hinge_loss(perturbation: torch.Tensor, c: float) -> torch.Tensor:
    """L_hinge = mean over images of max(0, ‖δ‖₂ − c)."""
    return (perturbation.flatten(1).norm(dim=1) - c).clamp(min=0).mean()


def adversarial_margin_loss(logits: torch.Tensor, goal: torch.Tensor, targeted: bool, kappa: float) -> torch.Tensor:
    """L_adv: the C&W margin of the target model's logits, averaged over the batch."""
    return cw_margin(logits, goal, targeted, kappa).mean()


def generator_loss(logits: torch.Tensor, goal: torch.Tensor, fake_scores: torch.Tensor, perturbation: torch.Tensor,
                   weights: AdvGANWeights, *, targeted: bool) -> dict[str, torch.Tensor]:
    """The generator's objective (module docstring) on one batch, x_adv = clip_[0,1](x + G(x)):

        L = L_adv + α·L_GAN + β·L_hinge

    from the target model's logits Z(x_adv), the labels ``goal`` the margin uses (t, or y when untargeted),
    the discriminator's scores D(x_adv) and the perturbations G(x). Returns the terms under ``"adv_loss"``,
    ``"gan_loss"``, ``"hinge_loss"`` and their weighted sum under ``"loss"``."""
    adv_loss = adversarial_margin_loss(logits, goal, targeted, weights.kappa)
    gan_loss = g_loss_least_squares(fake_scores)
    hinge = hinge_loss(perturbation, weights.c)
    loss = adv_loss + weights.alpha * gan_loss + weights.beta * hinge
    return {"loss": loss, "adv_loss": adv_loss, "gan_loss": gan_loss, "hinge_loss": hinge}


def train_advgan(generator: nn.Module, discriminator: nn.Module, target_model: nn.Module, loader: DataLoader,
                 iterations: int, *, target: int | None = None, weights: AdvGANWeights = DEFAULT_WEIGHTS,
                 lr: float = 1e-3, device: torch.device | str = "cpu", progress: ProgressFile | None = None,
                 save_every: int = 100) -> History:
    """Train an (unconditional) AdvGAN generator for ``iterations`` steps: towards class ``target``, or
    untargeted when ``target`` is None. Adam(lr, β = (0.5, 0.999)) for both networks. Resumable: the state
    is saved to ``progress`` every ``save_every`` steps. Returns per-step losses and the batch success rate."""
    check_count("iterations", iterations)
    parts = adam_parts({"generator": generator, "discriminator": discriminator}, lr, device)
    optimiser_g, optimiser_d = parts["optimiser_generator"], parts["optimiser_discriminator"]
    run = TrainingRun(parts, iterations, progress=progress, save_every=save_every, description="AdvGAN")
    batches = endless(loader)
    generator.train()
    discriminator.train()
    with frozen_eval(target_model):
        for _step in run:
            images, labels = (tensor.to(device) for tensor in next(batches))
            goal = labels if target is None else torch.full_like(labels, target)
            perturbation = generator(images)
            adversarial = (images + perturbation).clamp(0, 1)

            d_loss = d_loss_least_squares(discriminator(images), discriminator(adversarial.detach()))
            optimiser_d.zero_grad(set_to_none=True)
            d_loss.backward()
            optimiser_d.step()

            logits = target_model(adversarial)
            terms = generator_loss(logits, goal, discriminator(adversarial), perturbation, weights,
                                   targeted=target is not None)
            optimiser_g.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimiser_g.step()

            predicted = logits.argmax(1)
            success = (predicted == goal) if target is not None else (predicted != goal)
            run.log(d_loss=d_loss, adv_loss=terms["adv_loss"], gan_loss=terms["gan_loss"],
                    hinge_loss=terms["hinge_loss"], success=success.float().mean())
    return run.finish(generator, discriminator)


class AdvGAN(Attack):
    """Attack with trained AdvGAN generators: x_adv = clip(x + G(x)). ``generators`` maps ``"untargeted"``
    and/or target classes to generators; an image attacked towards t uses the generator of t. The target
    model is needed only for the attack contract's checks (and for evaluation), never for the attack."""

    norm = "linf"

    def __init__(self, model: nn.Module, generators: Mapping[str | int, nn.Module]) -> None:
        if not generators:
            raise ValueError("AdvGAN needs at least one trained generator")
        unknown = [key for key in generators if key != "untargeted" and not isinstance(key, int)]
        if unknown:
            raise ValueError(f"generator keys must be 'untargeted' or target class indices, got {unknown}")
        super().__init__(model, eps=max(float(g.eps) for g in generators.values()))
        self.generators = dict(generators)
        self.supports_untargeted = "untargeted" in self.generators
        self.supports_targeted = any(isinstance(key, int) for key in self.generators)

    def perturb(self, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
        if not targeted:
            return x + self.run_generator(self.generators["untargeted"], x)
        missing = sorted(set(labels.tolist()) - set(self.generators))
        if missing:
            raise ValueError(f"no generator trained for target class(es) {missing}; "
                             f"trained: {sorted(k for k in self.generators if isinstance(k, int))}")
        adversarial = x.clone()
        for target in labels.unique().tolist():
            rows = labels == target
            adversarial[rows] = x[rows] + self.run_generator(self.generators[target], x[rows])
        return adversarial

    @staticmethod
    def run_generator(generator: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """G(x) (or G(x, t)) on the generator's device, frozen in eval mode, returned on x's device."""
        with torch.no_grad(), frozen_eval(generator):
            device = model_device(generator)
            inputs = x.to(device)
            return (generator(inputs) if target is None else generator(inputs, target.to(device))).to(x.device)


def query_black_box(black_box: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """The black box's answers (probabilities) on ``images``, asked in chunks of 512: ``len(images)`` queries."""
    with torch.no_grad():
        return torch.cat([black_box(images[i:i + 512]) for i in range(0, len(images), 512)])


def fit_student(student: nn.Module, images: torch.Tensor, answers: torch.Tensor, *, epochs: int = 1,
                lr: float = 1e-3, batch_size: int = 64, temperature: float = 1.0,
                generator: torch.Generator | None = None) -> History:
    """Fit ``student`` to the black box's ``answers`` (probabilities p) on ``images`` by minimising
    KL(p ‖ student(x)) = E Σ_j p_j (log p_j − log softmax(Z_s(x)/T)_j). Returns ``{"loss": [...]}``, the
    mean loss of every epoch; the student is left in eval mode."""
    check_count("epochs", epochs)
    if len(answers) != len(images):
        raise ValueError(f"one answer per image is needed: {len(answers)} answers for {len(images)} images")
    optimiser = torch.optim.Adam(student.parameters(), lr=lr)
    device = model_device(student)
    history: History = {"loss": []}
    student.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        for start in range(0, len(images), batch_size):
            rows = order[start:start + batch_size]
            log_probabilities = F.log_softmax(student(images[rows].to(device)) / temperature, dim=1)
            loss = F.kl_div(log_probabilities, answers[rows].to(device), reduction="batchmean")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(rows)
        history["loss"].append(total / len(images))
    student.eval()
    return history


def distill(student: nn.Module, teacher: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
            *, epochs: int = 1, lr: float = 1e-3, batch_size: int = 64, temperature: float = 1.0,
            generator: torch.Generator | None = None) -> History:
    """Static distillation: query the black box ``teacher`` (images → probabilities) once on ``images`` and
    :func:`fit_student` to its answers."""
    return fit_student(student, images, query_black_box(teacher, images), epochs=epochs, lr=lr,
                       batch_size=batch_size, temperature=temperature, generator=generator)


def train_advgan_dynamic(generator: nn.Module, discriminator: nn.Module, student: nn.Module,
                         black_box: Callable[[torch.Tensor], torch.Tensor], loader: DataLoader,
                         query_images: torch.Tensor, rounds: int, iterations_per_round: int, *,
                         target: int | None = None, weights: AdvGANWeights = DEFAULT_WEIGHTS, lr: float = 1e-3,
                         device: torch.device | str = "cpu") -> History:
    """Black-box AdvGAN with dynamic distillation (Xiao et al. 2018): alternate ``rounds`` times between
    (1) training G for ``iterations_per_round`` steps against the current student s, and (2) querying the
    black box b (images → probabilities) on the current adversarial versions of ``query_images`` and
    fitting the student to its answers there and on the clean images,

        min_s  KL(b(x) ‖ s(x)) + KL(b(x + G(x)) ‖ s(x + G(x))),

    so that the student follows the black box where the generator is taking the images. The clean answers
    b(x) are asked once (the first round) and reused. The student should be statically distilled first
    (:func:`distill`). Returns per round: the black-box queries made, the student's agreement with the
    black box on the adversarial queries, and the generator's success over its last 20 steps."""
    check_count("rounds", rounds)
    report: History = {"queries": [], "agreement": [], "success": []}
    clean_answers = query_black_box(black_box, query_images)
    for round_index in range(rounds):
        history = train_advgan(generator, discriminator, student, loader, iterations_per_round, target=target,
                               weights=weights, lr=lr, device=device)
        adversarial = (query_images + AdvGAN.run_generator(generator, query_images)).clamp(0, 1)
        answers = query_black_box(black_box, adversarial)
        with torch.no_grad():
            mine = torch.cat([student(adversarial[i:i + 512].to(model_device(student))).argmax(1).cpu()
                              for i in range(0, len(adversarial), 512)])
        report["agreement"].append((mine == answers.argmax(1).cpu()).float().mean().item())
        report["success"].append(sum(history["success"][-20:]) / len(history["success"][-20:]))
        fit_student(student, torch.cat([query_images, adversarial]), torch.cat([clean_answers, answers]), lr=lr)
        report["queries"].append(float(len(query_images) * (2 if round_index == 0 else 1)))
    return report
