"""Self-checks for the book's implementation exercises.

Each ``check_*`` function runs a student's function on cases the student does not see, compares it with
the package's tested reference, and names the mistake when it recognises one (a step against the gradient,
one ε per batch instead of per example, one restart for the whole batch, ...)::

    from gancourse.exercises import check_fgsm
    check_fgsm(my_fgsm)          # prints ✓ or what is wrong, on which kind of input; returns a CheckResult

A student's function that still raises ``NotImplementedError`` (the student edition's stubs do) is reported
as not written yet. The checks never modify the package's state and run in well under a second on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.attacks.fgsm import FGSM
from gancourse.defenses.defense_gan import project

TOLERANCE = 1e-5


@dataclass
class CheckResult:
    """The outcome of one self-check: ``passed`` and one line of feedback per finding."""

    exercise: str
    passed: bool
    feedback: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✗"
        lines = [f"{mark} {self.exercise}: {'all hidden cases pass' if self.passed else 'not yet right'}"]
        return "\n".join(lines + [f"  - {line}" for line in self.feedback])

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython shows the report as the cell's result
        printer.text(str(self))


class _Failure(Exception):
    """A finding that ends a check: the student's function is wrong in the way the message says."""


def _run_check(exercise: str, student: Callable, body: Callable[[Callable], list[str]]) -> CheckResult:
    if not callable(student):
        raise TypeError(f"pass your function itself (e.g. check(my_function)), not {type(student).__name__}")
    try:
        notes = body(student)
    except NotImplementedError:
        return CheckResult(exercise, False, [f"{student.__name__} is not written yet: replace the "
                                             "`raise NotImplementedError` with your code"])
    except _Failure as failure:
        return CheckResult(exercise, False, [str(failure)])
    except Exception as error:  # the student's code crashed: say where, in their terms
        return CheckResult(exercise, False, [f"{student.__name__} raised {type(error).__name__}: {error}"])
    return CheckResult(exercise, True, notes)


def _same(a: torch.Tensor, b: torch.Tensor, tolerance: float = TOLERANCE) -> bool:
    return a.shape == b.shape and bool((a - b).abs().max() <= tolerance)


def _returned_tensor(value: object, name: str, like: torch.Tensor) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise _Failure(f"{name} must return a torch.Tensor, it returned {type(value).__name__}")
    if value.shape != like.shape:
        raise _Failure(f"{name} returned shape {tuple(value.shape)}; expected {tuple(like.shape)} "
                       "(one output per input, same shape)")
    if value.requires_grad:
        raise _Failure(f"{name} returned a tensor that still requires grad (it carries the attack's graph, "
                       "and the caller's next backward pass would run into it); return result.detach()")
    return value


# --- FGSM (chapter 06) ---------------------------------------------------------------------------------

def _fgsm_cases() -> list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]]:
    """Three hidden models; the last has dropout and is handed over in training mode, as a model is in the
    middle of a training loop: an attack must evaluate it in eval mode (the book's attacks do)."""
    generator = torch.Generator().manual_seed(2015)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(2015)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(36, 4))
    deep = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 8), nn.Tanh(), nn.Linear(8, 4))
    dropout = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5), nn.Linear(64, 4))
    torch.random.set_rng_state(torch_state)
    images = torch.rand(32, 1, 6, 6, generator=generator)
    images[:, :, 0] = 0.0                      # pixels on the box's edges: the clip matters there
    images[:, :, -1] = 1.0
    labels = torch.randint(0, 4, (32,), generator=generator)
    return [("a linear model", linear.eval(), images, labels), ("a small conv net", deep.eval(), images, labels),
            ("a conv net with dropout, handed over in training mode", dropout.train(), images, labels)]


def check_fgsm(student: Callable) -> CheckResult:
    """Check ``student(model, x, labels, eps, targeted=False)`` against :class:`gancourse.attacks.FGSM`:

        untargeted  x_adv = clip_[0,1](x + ε·sign(∇_x L(f(x), y)));   targeted  x − ε·sign(∇_x L(f(x), t)).
    """
    def body(fgsm: Callable) -> list[str]:
        notes = ["matches gancourse.attacks.FGSM in both modes, for three models (one with dropout) and two budgets"]
        for description, model, images, labels in _fgsm_cases():
            training = model.training
            for eps in (0.1, 0.03):
                for targeted in (False, True):
                    case = f"{description}, ε = {eps}, {'targeted' if targeted else 'untargeted'}"
                    result = _checked_fgsm_call(fgsm, model, images, labels, eps, targeted)
                    if training and not model.training and "left a model" not in notes[-1]:
                        notes.append("your function left a model that was in training mode in eval mode; the "
                                     "book's attacks put the mode back (was = model.training; …; model.train(was))")
                    if training and not _same(result, _checked_fgsm_call(fgsm, model.train(), images, labels, eps,
                                                                         targeted)):
                        raise _Failure(f"on {case}: two calls with the same inputs gave different images — the "
                                       "model has dropout and your function ran it in training mode; call "
                                       "model.eval() before taking the gradient")
                    _diagnose_fgsm(model.eval(), images, labels, eps, targeted, result, case)
                    model.train(training)
        return notes
    return _run_check("FGSM (exercise 06)", student, body)


def _checked_fgsm_call(fgsm: Callable, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float,
                       targeted: bool) -> torch.Tensor:
    """The student's result, after checking the contract: input untouched, no gradients left on the model."""
    kept = images.clone()
    result = _returned_tensor(fgsm(model, images, labels, eps, targeted=targeted), "my_fgsm", images)
    if not torch.equal(images, kept):
        raise _Failure("your function changed its input x in place; work on a copy "
                       "(x.clone()) so the caller's clean images stay clean")
    if any(parameter.grad is not None for parameter in model.parameters()):
        raise _Failure("your function left gradients in the model's parameters (.grad), which the caller's next "
                       "optimiser step would apply; take the gradient with respect to the input only: "
                       "torch.autograd.grad(loss, x)")
    return result


def _diagnose_fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, targeted: bool,
                   result: torch.Tensor, case: str) -> None:
    attack = FGSM(model, eps)
    reference = attack(images, target=labels) if targeted else attack(images, labels)
    if _same(result, reference):
        return
    if result.min() < -TOLERANCE or result.max() > 1 + TOLERANCE:
        raise _Failure(f"on {case}: values outside [0, 1] (min {result.min():.3f}, max {result.max():.3f}); "
                       "clip the adversarial image to the valid pixel range")
    if (result - images).abs().max() > eps + TOLERANCE:
        raise _Failure(f"on {case}: a pixel moved by {(result - images).abs().max():.3f} > ε = {eps}; "
                       "FGSM's step is ε times the *sign* of the gradient")
    flipped = attack(images, labels) if targeted else attack(images, target=labels)
    if _same(result, flipped):
        raise _Failure(f"on {case}: you stepped in the wrong direction — an untargeted attack goes *up* the "
                       "loss of the true label (+ε·sign), a targeted one *down* the loss of the target (−ε·sign)")
    x = images.clone().requires_grad_(True)
    gradient, = torch.autograd.grad(F.cross_entropy(model(x), labels), x)
    direction = -1.0 if targeted else 1.0
    if _same(result, (images + direction * eps * gradient).clamp(0, 1)):
        raise _Failure(f"on {case}: you stepped along the raw gradient; FGSM uses its sign, "
                       "so every pixel moves by exactly ε (before clipping)")
    predicted = model(images).argmax(1)
    if not targeted and _same(result, attack(images, predicted)):
        raise _Failure(f"on {case}: you attacked the model's predictions instead of the true labels; "
                       "the loss must use the labels passed in")
    if _same(result, images + direction * eps * gradient.sign()):
        raise _Failure(f"on {case}: right step, but not clipped to [0, 1]")
    differing = ((result - reference).abs() > TOLERANCE).float().mean().item()
    raise _Failure(f"on {case}: {differing:.0%} of the pixels differ from FGSM's; compute the gradient of "
                   "the cross-entropy of the model's logits with respect to the input")


# --- the gradient penalty (chapter 02) -----------------------------------------------------------------

class _RecordingCritic(nn.Module):
    """C(x) = w·x + ½ s ‖x‖²: its gradient w + s·x depends on the interpolate, so the penalty does too.
    Remembers every batch it scores, so the check can see the interpolates the student built."""

    def __init__(self, weights: torch.Tensor, curvature: float) -> None:
        super().__init__()
        self.weights = nn.Parameter(weights.clone())
        self.curvature = curvature
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        flat = x.flatten(1)
        return flat @ self.weights + 0.5 * self.curvature * flat.pow(2).sum(1)


def _penalty_on(critic: _RecordingCritic, mixed: torch.Tensor, weight: float) -> torch.Tensor:
    gradient = critic.weights + critic.curvature * mixed.flatten(1)
    return weight * (gradient.norm(dim=1) - 1).pow(2).mean()


def check_gradient_penalty(student: Callable) -> CheckResult:
    """Check ``student(critic, real, fake, weight=10.0)`` against the WGAN-GP penalty

        λ E_x̂[(‖∇_x̂ C(x̂)‖₂ − 1)²],   x̂ = ε x + (1 − ε) x̃,   ε ~ U[0, 1] drawn once per example,

    by watching the interpolates x̂ it feeds the critic and recomputing the penalty on them.
    """
    def body(penalty_fn: Callable) -> list[str]:
        generator = torch.Generator().manual_seed(2017)
        real = torch.rand(64, 1, 4, 4, generator=generator)
        fake = torch.rand(64, 1, 4, 4, generator=generator)
        for weight, curvature in ((10.0, 0.0), (10.0, 0.5), (1.0, 0.5)):
            critic = _RecordingCritic(torch.randn(16, generator=generator) * 0.5, curvature)
            value = penalty_fn(critic, real, fake, weight)
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise _Failure("the penalty must be a single number (a 0-d tensor): average over the batch")
            if not critic.seen:
                raise _Failure("your function never called the critic")
            mixed = critic.seen[0].reshape(real.shape)
            _diagnose_interpolates(real, fake, mixed)
            expected = _penalty_on(critic, mixed, weight)
            case = f"a critic with gradient w + {curvature}·x, λ = {weight}"
            if not torch.allclose(value.detach().reshape(()), expected, rtol=1e-4, atol=1e-6):
                _diagnose_penalty_value(critic, real, fake, mixed, weight, value.detach().reshape(()), case)
            if value.grad_fn is None:
                raise _Failure("the penalty does not depend on the critic's weights, so the critic cannot "
                               "minimise it: take the gradient with torch.autograd.grad(..., create_graph=True)")
            got, = torch.autograd.grad(value.reshape(()), critic.weights)
            wanted, = torch.autograd.grad(expected, critic.weights)
            if not torch.allclose(got, wanted, rtol=1e-4, atol=1e-6):
                raise _Failure(f"with {case}: the value is right but its gradient with respect to the critic's "
                               "weights is not; keep the graph of ∇C (create_graph=True) and do not detach it")
        return ["interpolates, value and its gradient for the critic match WGAN-GP's penalty on three cases"]
    return _run_check("gradient penalty (exercise 02)", student, body)


def _interpolation_weights(real: torch.Tensor, fake: torch.Tensor, mixed: torch.Tensor) -> torch.Tensor:
    """The ε per example that puts ``mixed`` closest to ε·x + (1 − ε)·x̃ (least squares)."""
    direction = (real - fake).flatten(1)
    return ((mixed - fake).flatten(1) * direction).sum(1) / direction.pow(2).sum(1)


def _on_segments(points: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> tuple[bool, torch.Tensor]:
    """Whether every point lies on the line through some start s_j and some end e_k (any pairing, j may differ from
    the point's own index), and for each point the weight t of its best fit p = t·s_j + (1 − t)·e_k."""
    p, a, b = points.flatten(1).double(), starts.flatten(1).double(), ends.flatten(1).double()
    direction = a[:, None, :] - b[None, :, :]                                   # j × k × d
    length = direction.pow(2).sum(-1).clamp_min(1e-12)
    offset = p[:, None, None, :] - b[None, None, :, :]                          # i × 1 × k × d
    t = (offset * direction[None]).sum(-1) / length[None]                        # i × j × k
    residual = (offset - t[..., None] * direction[None]).abs().amax(-1)          # i × j × k
    best = residual.flatten(1).argmin(1)
    return bool((residual.flatten(1).min(1).values < 1e-4).all()), t.flatten(1).gather(1, best[:, None])[:, 0]


def _diagnose_interpolates(real: torch.Tensor, fake: torch.Tensor, mixed: torch.Tensor) -> None:
    for name, batch, other in (("real", real, "fake"), ("fake", fake, "real")):
        if torch.allclose(mixed, batch, atol=1e-6):
            raise _Failure(f"the critic saw the {name} examples themselves: x̂ must mix each real example with a "
                           f"fake one, x̂ = ε·x + (1 − ε)·x̃; mixing {name} with {name} gives the {name} batch back "
                           f"(is one of your two batches the {other} one?)")
    between, epsilons = _on_segments(mixed, real, fake)       # a shuffled pairing of real and fake is a fair sample
    if not between:
        for name, batch in (("real", real), ("fake", fake)):
            if _on_segments(mixed, batch, batch)[0]:
                raise _Failure(f"the critic saw points between pairs of {name} examples (a shuffled copy of the "
                               f"{name} batch?): x̂ must mix a real example with a fake one, x̂ = ε·x + (1 − ε)·x̃")
        raise _Failure("the critic was not evaluated on points of the segments between each real and fake "
                       "example: x̂ = ε·x + (1 − ε)·x̃ with one ε per example (shape N×1×1×1), "
                       "not one per pixel")
    if epsilons.min() < -1e-4 or epsilons.max() > 1 + 1e-4:
        raise _Failure("the interpolation weights ε must lie in [0, 1]: draw them with torch.rand")
    if epsilons.max() - epsilons.min() < 1e-6:
        raise _Failure("every example got the same ε: draw one ε per example (torch.rand(N, 1, 1, 1)), "
                       "not one for the whole batch")


def _diagnose_penalty_value(critic: _RecordingCritic, real: torch.Tensor, fake: torch.Tensor, mixed: torch.Tensor,
                            weight: float, value: torch.Tensor, case: str) -> None:
    gradient = critic.weights.detach() + critic.curvature * mixed.flatten(1)
    norms = gradient.norm(dim=1)
    epsilons = _interpolation_weights(real, fake, mixed)
    candidates = {
        "you took the gradient with respect to the real examples (∂C(x̂)/∂x = ε·∇C(x̂)); take it with respect to "
        "the interpolates x̂ themselves": weight * (epsilons * norms - 1).pow(2).mean(),
        "you took the gradient with respect to the fake examples (∂C(x̂)/∂x̃ = (1 − ε)·∇C(x̂)); take it with "
        "respect to the interpolates x̂ themselves": weight * ((1 - epsilons) * norms - 1).pow(2).mean(),
        "you differentiated the mean of the critic's scores, which divides every example's gradient by the batch "
        "size; differentiate their sum (or pass grad_outputs=torch.ones_like(scores))":
            weight * (norms / len(mixed) - 1).pow(2).mean(),
        "you penalised the squared norm, (‖∇‖² − 1)²; the penalty is (‖∇‖₂ − 1)²":
            weight * (norms.pow(2) - 1).pow(2).mean(),
        "you took one norm over the whole batch; take the norm per example (over C×H×W), then average":
            weight * (gradient.norm() - 1).pow(2),
        "you summed over the batch; average the per-example penalties": weight * (norms - 1).pow(2).sum(),
        "the weight λ is missing": (norms - 1).pow(2).mean(),
        "you penalised ‖∇‖² itself; WGAN-GP pulls the norm towards 1: (‖∇‖₂ − 1)²": weight * norms.pow(2).mean(),
    }
    for message, wrong in candidates.items():
        if torch.allclose(value, wrong, rtol=1e-4, atol=1e-6):
            raise _Failure(f"with {case}: {message}")
    raise _Failure(f"with {case}: penalty {value.item():.5f}, expected {_penalty_on(critic, mixed, weight).item():.5f} "
                   "on the interpolates your function built")


# --- Defense-GAN's projection (chapter 09) -------------------------------------------------------------

def _projection_case() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A small tanh generator (latent 4 → 1×4×4) and images it can only reach from some restarts. Seed 2020:
    the restart with the smallest summed error is not the first one, and 9 of the 12 images have another
    best restart, so a per-batch choice and a first-restart shortcut give different answers."""
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(2020)
    generator = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 16), nn.Sigmoid(), nn.Unflatten(1, (1, 4, 4)))
    torch.random.set_rng_state(torch_state)
    random = torch.Generator().manual_seed(2020)
    with torch.no_grad():
        images = generator(torch.randn(12, 4, generator=random) * 2.0)
    starts = torch.randn(12, 5, 4, generator=random) * 2.0
    return generator.eval(), images, starts


def check_projection(student: Callable) -> CheckResult:
    """Check ``student(G, images, starts, steps, lr=10.0, momentum=0.7)`` (returning G(z*), N×C×H×W) against
    :func:`gancourse.defenses.defense_gan.project`: L steps of momentum descent on e(z) = ‖G(z) − x‖²/d from
    every start, η/10 from step ⌊0.8·L⌋, and the restart with the smallest final error **per image**."""
    def body(projection_fn: Callable) -> list[str]:
        generator, images, starts = _projection_case()
        steps, lr = 30, 10.0
        kept_images, kept_starts = images.clone(), starts.clone()
        result = projection_fn(generator, images, starts, steps, lr=lr, momentum=0.7)
        if isinstance(result, torch.Tensor) and result.shape == starts[:, 0].shape:
            raise _Failure("you returned the latents z*; return the reconstructions G(z*)")
        result = _returned_tensor(result, "my_projection", images)
        if not (torch.equal(images, kept_images) and torch.equal(starts, kept_starts)):
            raise _Failure("your function changed the images or the starts in place; optimise a copy of the "
                           "starts (starts.clone())")
        reference = project(generator, images, starts, steps=steps, lr=lr)
        if _same(result, reference.reconstructions, 1e-4):
            return ["matches gancourse.defenses.defense_gan.project, restart chosen per image"]
        with torch.no_grad():
            errors = reference.restart_errors
            per_batch = generator(reference.restart_latents[:, errors.sum(0).argmin()])
            first = generator(reference.restart_latents[:, 0])
        if _same(result, per_batch, 1e-4):
            raise _Failure("you picked one restart for the whole batch (the one with the smallest summed "
                           "error); pick the best restart for each image separately: errors.view(N, R).argmin(1)")
        if _same(result, first, 1e-4):
            raise _Failure("you returned the first restart's reconstruction; keep the restart with the "
                           "smallest final error, per image")
        decay_step = int(0.8 * steps)
        compounded = [lr if k < decay_step else lr * 0.1 ** (k - decay_step + 1) for k in range(steps)]
        every_step = [lr * 0.1 ** (k + 1) for k in range(steps)]
        variants = {
            "the step size never drops: use η until step ⌊0.8·L⌋, then η/10":
                project(generator, images, starts, steps=steps, lr=lr, decay_at=1.0),
            "your step size is divided by 10 again at every step after ⌊0.8·L⌋ (a compounded decay: η/10, η/100, "
            "…, which freezes the latents); the paper divides it by 10 once: η_k = η for k < ⌊0.8·L⌋, then η/10":
                project(generator, images, starts, steps=steps, step_sizes=compounded),
            "your step size is divided by 10 at every step from the first (η/10, η/100, …, so the latents barely "
            "move); the paper keeps η until step ⌊0.8·L⌋, then uses η/10":
                project(generator, images, starts, steps=steps, step_sizes=every_step),
            "no momentum: v ← μ·v + ∇e(z), z ← z − η·v with μ = 0.7":
                project(generator, images, starts, steps=steps, lr=lr, momentum=0.0),
            f"you ran {steps - 1} steps instead of L = {steps}":
                project(generator, images, starts, steps=steps - 1, lr=lr),
        }
        for message, variant in variants.items():
            if _same(result, variant.reconstructions, 1e-4):
                raise _Failure(message)
        own_error = (result - images).flatten(1).pow(2).mean(1)
        worse = (own_error > reference.errors + 1e-5).float().mean().item()
        raise _Failure(f"the reconstructions differ from the reference projection; for {worse:.0%} of the images "
                       "yours are farther from the image. Differentiate the per-image mean squared error "
                       "e(z) = ‖G(z) − x‖²/d (summed over images, so each latent gets its own gradient)")
    return _run_check("Defense-GAN projection (exercise 09)", student, body)


# --- breaking a defense, reported with its interval (chapter 11) ---------------------------------------

def check_break_report(student: Callable, model: nn.Module, classify: Callable[[torch.Tensor], torch.Tensor],
                       images: torch.Tensor, labels: torch.Tensor, eps: float) -> CheckResult:
    """Check ``student(model, images, labels, eps)`` → (adversarial images, report), a break of the defense whose
    decision is ``classify`` (a negative label: rejected) and whose network is ``model``: the adversarial images
    keep to the ℓ∞ budget and the box, and ``report`` = {"robust": r, "low": l, "high": h, "n": n} is what they
    give — the robust accuracy r = (images classified correctly or rejected) / n, with its 95% Wilson interval
    (l, h) = (p̂ + z²/2n ∓ z√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n), z = 1.96."""
    from gancourse.evaluate import wilson_interval

    def body(attack: Callable) -> list[str]:
        returned = attack(model, images, labels, eps)
        if not isinstance(returned, tuple) or len(returned) != 2:
            raise _Failure("return two things: the adversarial images and the report dict")
        adversarial, report = returned
        if not isinstance(adversarial, torch.Tensor) or adversarial.shape != images.shape:
            raise _Failure(f"the adversarial images must be a tensor shaped like the clean ones {tuple(images.shape)}")
        if adversarial.requires_grad:
            raise _Failure("the adversarial images still require grad; report adversarial.detach()")
        if adversarial.min() < 0 or adversarial.max() > 1:
            raise _Failure("some adversarial pixels lie outside [0, 1]: clip them, or the images are not images")
        moved = (adversarial - images).abs().max().item()
        if moved > eps + 1e-6:
            raise _Failure(f"a pixel moved by {moved:.4f} > ε = {eps}: the break does not count under this threat "
                           "model; project onto the ε-ball (x + (x_adv − x).clamp(−ε, ε))")
        if not isinstance(report, dict) or set(report) != {"robust", "low", "high", "n"}:
            raise _Failure('report a dict with exactly the keys "robust", "low", "high" and "n"')
        with torch.no_grad():
            predicted = classify(adversarial).to(labels.device)
        survived = int(((predicted == labels) | (predicted < 0)).sum())
        n = len(images)
        if report["n"] != n:
            raise _Failure(f"n = {report['n']}, but you attacked {n} images: n is the number of images evaluated")
        if abs(report["robust"] - survived / n) > 0.5 / n:
            raise _Failure(f"robust = {report['robust']:.4f}, but the defense survives {survived} of {n} of your "
                           f"images ({survived / n:.4f}); count an image as robust if it is classified correctly "
                           "or rejected")
        low, high = wilson_interval(survived, n)
        if abs(report["low"] - low) > 1e-3 or abs(report["high"] - high) > 1e-3:
            p = survived / n
            wald = 1.959963984540054 * (p * (1 - p) / n) ** 0.5
            if abs(report["low"] - max(0.0, p - wald)) < 1e-3 and abs(report["high"] - min(1.0, p + wald)) < 1e-3:
                raise _Failure("that is the normal (Wald) interval p̂ ± 1.96·√(p̂(1 − p̂)/n); it collapses to a point "
                               "at 0% and 100%, where broken defenses sit — use the Wilson interval")
            raise _Failure(f"the 95% interval of {survived}/{n} is [{low:.4f}, {high:.4f}] (Wilson), you reported "
                           f"[{report['low']:.4f}, {report['high']:.4f}]")
        with torch.no_grad():
            clean = classify(images).to(labels.device)
        clean_low = wilson_interval(int(((clean == labels) | (clean < 0)).sum()), n)[0]
        verdict = ("broken: the interval lies wholly below the clean accuracy's" if high < clean_low else
                   "not broken yet: the interval reaches the clean accuracy's; a stronger (adaptive) attack may do more")
        return [f"the budget holds and the report is right: robust accuracy {survived / n:.1%} "
                f"[{low:.1%}, {high:.1%}], n = {n}; {verdict}"]
    return _run_check("reporting a break (exercise 11)", student, body)
