"""The exercise self-checks pass correct solutions and name each classic mistake."""

import pytest
import torch
import torch.nn.functional as F

from gancourse.exercises import check_fgsm, check_gradient_penalty, check_projection


def fgsm(model, x, labels, eps, targeted=False, *, sign=True, clip=True, direction=1.0, use_predictions=False,
         in_place=False, evaluate=True, restore_mode=True, detach=True, backward=False):
    """A student's FGSM with switches for the mistakes the check must catch."""
    was_training = model.training
    if evaluate:
        model.eval()
    inputs = x.clone().requires_grad_(True)
    logits = model(inputs)
    target = logits.argmax(1).detach() if use_predictions else labels
    loss = F.cross_entropy(logits, target)
    if backward:
        loss.backward()
        gradient = inputs.grad
    else:
        gradient, = torch.autograd.grad(loss, inputs, create_graph=not detach)
    step = (gradient.sign() if sign else gradient) * eps * (-1.0 if targeted else 1.0) * direction
    if restore_mode:
        model.train(was_training)
    if in_place:
        x += step
        return x.clamp_(0, 1)
    result = (x if detach else inputs) + step
    result = result.clamp(0, 1) if clip else result
    return result.detach() if detach else result


def assert_caught(result, *words):
    assert not result.passed, str(result)
    text = str(result).lower()
    assert all(word in text for word in words), str(result)


def test_check_fgsm_passes_a_correct_solution():
    result = check_fgsm(fgsm)
    assert result.passed, str(result)
    assert "✓" in str(result)


@pytest.mark.parametrize(("mistake", "words"), [
    ({"direction": -1.0}, ("wrong direction",)),
    ({"sign": False}, ("raw gradient",)),
    ({"clip": False}, ("outside [0, 1]",)),
    ({"use_predictions": True}, ("predictions",)),
    ({"in_place": True}, ("in place",)),
    ({"evaluate": False}, ("dropout", "model.eval()")),
    ({"detach": False}, ("requires grad", "detach")),
    ({"backward": True}, (".grad", "autograd.grad")),
])
def test_check_fgsm_names_each_mistake(mistake, words):
    assert_caught(check_fgsm(lambda m, x, y, eps, targeted=False: fgsm(m, x, y, eps, targeted, **mistake)), *words)


def test_check_fgsm_passes_a_solution_that_leaves_the_model_in_eval_mode_with_a_note():
    result = check_fgsm(lambda m, x, y, eps, targeted=False: fgsm(m, x, y, eps, targeted, restore_mode=False))
    assert result.passed, str(result)
    assert "model.train(was)" in str(result)
    assert "left a model" not in str(check_fgsm(fgsm))


def test_check_fgsm_reports_stubs_crashes_and_budget_violations():
    def stub(model, x, labels, eps, targeted=False):
        raise NotImplementedError

    assert_caught(check_fgsm(stub), "not written yet")
    assert_caught(check_fgsm(lambda m, x, y, eps, targeted=False: x[:, :, :3]), "shape")
    assert_caught(check_fgsm(lambda m, x, y, eps, targeted=False: (x + 2 * eps).clamp(0, 1)), "> ε")
    assert_caught(check_fgsm(lambda m, x, y, eps, targeted=False: 1 / 0), "zerodivisionerror")
    with pytest.raises(TypeError, match="your function itself"):
        check_fgsm("my_fgsm")


def penalty(critic, real, fake, weight=10.0, *, per_example=True, squared=False, batch_norm=False, total=False,
            graph=True, per_pixel=False):
    """A student's gradient penalty with switches for the classic mistakes."""
    n = real.shape[0]
    shape = real.shape if per_pixel else (n, 1, 1, 1) if per_example else (1, 1, 1, 1)
    epsilon = torch.rand(shape)
    mixed = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
    gradient, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=graph)
    norms = gradient.norm() if batch_norm else gradient.flatten(1).norm(dim=1)
    terms = (norms.pow(2) - 1).pow(2) if squared else (norms - 1).pow(2)
    return weight * (terms.sum() if total else terms.mean())


def test_check_gradient_penalty_passes_correct_solutions_including_the_package():
    from gancourse.losses import gradient_penalty

    assert check_gradient_penalty(penalty).passed
    assert check_gradient_penalty(gradient_penalty).passed


@pytest.mark.parametrize(("mistake", "words"), [
    ({"per_example": False}, ("same ε", "per example")),
    ({"per_pixel": True}, ("not one per pixel",)),
    ({"squared": True}, ("squared norm",)),
    ({"batch_norm": True}, ("whole batch",)),
    ({"total": True}, ("summed",)),
    ({"graph": False}, ("create_graph",)),
])
def test_check_gradient_penalty_names_each_mistake(mistake, words):
    student = lambda critic, real, fake, weight=10.0: penalty(critic, real, fake, weight, **mistake)  # noqa: E731
    assert_caught(check_gradient_penalty(student), *words)


def _variant(critic, real, fake, weight=10.0, *, mix="right", wrt="mixed", reduce="sum", form="textbook"):
    """Students' penalties written in other ways: right ones (``form``) and wrong ones (``mix``, ``wrt``,
    ``reduce``)."""
    n = real.shape[0]
    epsilon = torch.rand(n).view(n, 1, 1, 1) if form == "view" else torch.rand(n, 1, 1, 1)
    a, b = {"right": (real, fake), "real-real": (real, real), "fake-fake": (fake, fake),
            "shuffled-fake": (real, fake[torch.randperm(n)]), "real-shuffled": (real, real.flip(0)),
            "fake-shuffled": (fake.roll(1, 0), fake)}[mix]
    if wrt == "real":
        a = a.clone().requires_grad_(True)
    if wrt == "fake":
        b = b.clone().requires_grad_(True)
    mixed = b + epsilon * (a - b) if form == "offset" else epsilon * a + (1 - epsilon) * b
    if wrt == "mixed":
        mixed.requires_grad_(True)
    scores = critic(mixed)
    inputs = {"mixed": mixed, "real": a, "fake": b}[wrt]
    if reduce == "grad_outputs":
        gradient, = torch.autograd.grad(scores, inputs, grad_outputs=torch.ones_like(scores), create_graph=True)
    else:
        gradient, = torch.autograd.grad(scores.sum() if reduce == "sum" else scores.mean(), inputs, create_graph=True)
    return weight * ((gradient.reshape(n, -1).norm(2, dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize("variant", [{"form": "view"}, {"form": "offset"}, {"reduce": "grad_outputs"},
                                     {"mix": "shuffled-fake"}])
def test_check_gradient_penalty_passes_correct_solutions_written_differently(variant):
    result = check_gradient_penalty(lambda c, r, f, weight=10.0: _variant(c, r, f, weight, **variant))
    assert result.passed, str(result)


@pytest.mark.parametrize(("mistake", "words"), [
    ({"mix": "real-real"}, ("real examples themselves",)),
    ({"mix": "fake-fake"}, ("fake examples themselves",)),
    ({"mix": "real-shuffled"}, ("pairs of real examples",)),
    ({"mix": "fake-shuffled"}, ("pairs of fake examples",)),
    ({"wrt": "real"}, ("respect to the real examples",)),
    ({"wrt": "fake"}, ("respect to the fake examples",)),
    ({"reduce": "mean"}, ("mean of the critic's scores",)),
])
def test_check_gradient_penalty_names_the_mistake_of_each_wrong_variant(mistake, words):
    assert_caught(check_gradient_penalty(lambda c, r, f, weight=10.0: _variant(c, r, f, weight, **mistake)), *words)


def test_check_gradient_penalty_catches_a_missing_weight_and_a_vector_result():
    assert_caught(check_gradient_penalty(lambda c, r, f, weight=10.0: penalty(c, r, f, 1.0)), "λ")
    student = lambda c, r, f, weight=10.0: penalty(c, r, f, weight) * torch.ones(3)  # noqa: E731
    assert_caught(check_gradient_penalty(student), "single number")


def projection(generator, images, starts, steps, lr=10.0, momentum=0.7, *, per_image=True, decay="once",
               in_place=False, return_latents=False):
    """A student's Defense-GAN projection with switches for the mistakes the check must catch."""
    n, restarts, k = starts.shape
    targets = images.repeat_interleave(restarts, 0)
    z = starts.view(n * restarts, k) if in_place else starts.reshape(n * restarts, k).clone()
    velocity = torch.zeros_like(z)
    for step in range(steps):
        latent = z.detach().requires_grad_(True)
        error = (generator(latent) - targets).flatten(1).pow(2).mean(1)
        gradient, = torch.autograd.grad(error.sum(), latent)
        velocity = momentum * velocity + gradient
        if decay == "once":
            rate = lr if step < int(0.8 * steps) else lr / 10
        elif decay == "compounded":          # the known port's bug: lr *= 0.1 at every step past the decay point
            rate = lr if step < int(0.8 * steps) else rate / 10
        elif decay == "every step":
            rate = (lr if step == 0 else rate) / 10
        else:
            rate = lr
        if in_place:
            z.sub_(rate * velocity)
        else:
            z = z - rate * velocity
    with torch.no_grad():
        errors = (generator(z) - targets).flatten(1).pow(2).mean(1).view(n, restarts)
        best = errors.argmin(1) if per_image else errors.sum(0).argmin().repeat(n)
        latents = z.view(n, restarts, k)[torch.arange(n), best]
        return latents if return_latents else generator(latents)


def test_check_projection_passes_a_correct_solution():
    result = check_projection(projection)
    assert result.passed, str(result)


@pytest.mark.parametrize(("mistake", "words"), [
    ({"per_image": False}, ("one restart for the whole batch",)),
    ({"decay": "never"}, ("never drops",)),
    ({"decay": "compounded"}, ("compounded",)),
    ({"decay": "every step"}, ("from the first",)),
    ({"momentum": 0.0}, ("no momentum",)),
    ({"in_place": True}, ("in place",)),
    ({"return_latents": True}, ("latents",)),
])
def test_check_projection_names_each_mistake(mistake, words):
    def student(generator, images, starts, steps, lr=10.0, momentum=0.7):
        options = dict(mistake)
        return projection(generator, images, starts, steps, lr, options.pop("momentum", momentum), **options)

    assert_caught(check_projection(student), *words)


def test_check_projection_catches_a_wrong_error_and_the_first_restart():
    def sum_not_mean(generator, images, starts, steps, lr=10.0, momentum=0.7):
        return projection(generator, images, starts, steps, lr * images[0].numel(), momentum)

    assert_caught(check_projection(sum_not_mean), "differ")

    def first_restart(generator, images, starts, steps, lr=10.0, momentum=0.7):
        return projection(generator, images, starts[:, :1], steps, lr, momentum)

    assert_caught(check_projection(first_restart), "first restart")


def break_case():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()
    images = torch.rand(40, 1, 4, 4)
    with torch.no_grad():
        labels = model(images).argmax(1)
    classify = lambda x: model(x).argmax(1)  # noqa: E731
    return model, classify, images, labels


def breaker(adjust=lambda adversarial, report: (adversarial, report)):
    """A student's break: PGD, then the report of what it achieved (``adjust`` plants a mistake)."""
    from gancourse.attacks import PGD
    from gancourse.evaluate import wilson_interval

    def student(model, images, labels, eps):
        adversarial = PGD(model, eps, steps=10)(images, labels)
        survived = int((model(adversarial).argmax(1) == labels).sum())
        low, high = wilson_interval(survived, len(images))
        return adjust(adversarial, {"robust": survived / len(images), "low": low, "high": high, "n": len(images)})
    return student


def test_check_break_report_passes_a_correct_report_and_says_whether_it_broke_the_defense():
    from gancourse.exercises import check_break_report

    model, classify, images, labels = break_case()
    result = check_break_report(breaker(), model, classify, images, labels, 0.3)
    assert result.passed, str(result)
    assert "broken" in str(result) and "n = 40" in str(result)


def test_check_break_report_names_each_mistake():
    from gancourse.exercises import check_break_report

    def wald(adversarial, report):
        p = report["robust"]
        half = 1.959963984540054 * (p * (1 - p) / 40) ** 0.5
        return adversarial, {**report, "low": max(0.0, p - half), "high": min(1.0, p + half)}

    cases = [
        (lambda a, r: ((a + 0.2).clamp(0, 1), r), "moved by"),
        (lambda a, r: (a, {**r, "n": 50}), "number of images"),
        (lambda a, r: (a, {**r, "robust": 1 - r["robust"]}), "survives"),
        (wald, "wald"),
        (lambda a, r: (a, {**r, "low": r["low"] + 0.05}), "wilson"),
        (lambda a, r: (a, {"robust": r["robust"]}), "exactly the keys"),
        (lambda a, r: (a.requires_grad_(True), r), "require grad"),
        (lambda a, r: a, "two things"),
    ]
    model, classify, images, labels = break_case()
    for adjust, words in cases:
        assert_caught(check_break_report(breaker(adjust), model, classify, images, labels, 0.3), words)
    def stub(model, images, labels, eps):
        raise NotImplementedError
    assert_caught(check_break_report(stub, model, classify, images, labels, 0.3), "not written yet")
