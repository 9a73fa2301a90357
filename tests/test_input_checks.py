"""Issue 19, part 3b: classes of bad input the first audit missed, each checked everywhere it occurs.

- images of another dtype than the model's weights (float64, float16) are refused, with the conversion, by
  every attack, classifier, critic, discriminator, generator and purifier network (one check,
  ``validation.check_dtype``), instead of reaching torch's "Input type (double) and bias type (float)";
- NaN and [0, 255] images reach no model in eval mode (a prediction); training steps (train mode) and an
  attack's gradient steps (inputs that require gradients) are not re-checked;
- settings: JSMA's ``chunk``, ``make_loaders``'s profile, batch size and seed, ℓ∞ budgets above 1;
- shape errors name the batch's shape; JSMA leaves its settings alone during a call; adversarial training
  builds its attack once; evaluation works for a model without parameters.
"""

import math

import pytest
import torch
from torch import nn

from gancourse import evaluate
from gancourse.attacks import FGSM, IFGSM, JSMA, PGD, CarliniWagnerL2, DeepFool, RandFGSM, perturbation_norms
from gancourse.data import make_loaders
from gancourse.defenses import adversarial_training
from gancourse.defenses.ape_gan import APEGAN
from gancourse.models.advgan import PerturbationDiscriminator, PerturbationGenerator
from gancourse.models.ape_gan import APEDiscriminator, APEGenerator
from gancourse.models.classifiers import CLASSIFIERS, build_classifier
from gancourse.models.cyclegan import CycleGenerator, PatchDiscriminator
from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancourse.models.stylegan import StyleDiscriminator, StyleGenerator
from gancourse.models.toy import MLPDiscriminator, MLPGenerator
from gancourse.models.wgan_gp import WGANGPCritic, WGANGPGenerator
from gancourse.profiles import PROFILES

GREY = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
LABELS = torch.tensor([3, 7])
TARGETS = torch.tensor([1, 2])
WRONG_DTYPE = r"are torch\.float64 but the model's weights are torch\.float32; convert them with \.float\(\)"


def tiny_classifier() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 26 * 26, 10))


class PixelMeans(nn.Module):
    """A classifier without parameters: logit k = k · (mean pixel), so bright images get class 9, black ones a tie
    (argmax 0)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1).mean(1, keepdim=True) * torch.arange(10.0, device=images.device)


ATTACKS = {
    "FGSM": lambda m: FGSM(m, 0.1), "RandFGSM": lambda m: RandFGSM(m, 0.1, 0.05), "PGD": lambda m: PGD(m, 0.1, 2),
    "IFGSM": lambda m: IFGSM(m, 0.1, 2), "DeepFool": lambda m: DeepFool(m, steps=2),
    "C&W": lambda m: CarliniWagnerL2(m, steps=2, search_steps=1),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_attack_refuses_float64_images_with_the_conversion(name):
    attack = ATTACKS[name](tiny_classifier())
    with pytest.raises(ValueError, match=f"images {WRONG_DTYPE}"):
        attack(GREY.double(), LABELS)
    with pytest.raises(ValueError, match=r"images are torch\.float16 .* \.float\(\)"):
        attack(GREY.half(), LABELS)
    assert attack(GREY, LABELS).dtype == torch.float32          # the conversion the message gives works


def test_jsma_refuses_float64_images_and_a_double_model_takes_double_images():
    with pytest.raises(ValueError, match=WRONG_DTYPE):
        JSMA(tiny_classifier(), gamma=0.01)(GREY.double(), target=TARGETS)
    double = tiny_classifier().double()
    assert FGSM(double, 0.1)(GREY.double(), LABELS).dtype == torch.float64   # the rule is "the model's dtype"
    with pytest.raises(ValueError, match=r"float32 but the model's weights are torch\.float64; "
                                         r"convert them with \.to\(torch\.float64\)"):
        FGSM(double, 0.1)(GREY, LABELS)


IMAGE_MODELS = {
    **{f"classifier {name}": (lambda name=name: build_classifier(name), GREY) for name in CLASSIFIERS},
    "DCGAN discriminator": (DCGANDiscriminator, GREY),
    "WGAN-GP critic": (WGANGPCritic, GREY),
    "StyleGAN discriminator": (StyleDiscriminator, torch.rand(2, 1, 32, 32)),
    "APE-GAN generator": (APEGenerator, GREY),
    "APE-GAN discriminator": (APEDiscriminator, GREY),
    "APE-GAN purifier": (lambda: APEGAN(APEGenerator()), GREY),
    "CycleGAN generator": (lambda: CycleGenerator(width=2, blocks=1), GREY),
    "CycleGAN discriminator": (lambda: PatchDiscriminator(width=2), GREY),
    "AdvGAN generator": (PerturbationGenerator, GREY),
    "AdvGAN discriminator": (PerturbationDiscriminator, GREY),
    "AI-GAN class branch": (lambda: PerturbationDiscriminator(num_classes=10).classify, GREY),
}


@pytest.mark.parametrize("name", list(IMAGE_MODELS))
def test_every_image_model_refuses_float64_images_with_the_conversion(name):
    build, images = IMAGE_MODELS[name]
    model = build()
    getattr(model, "__self__", model).eval()                    # a bound method: its network
    with pytest.raises(ValueError, match=WRONG_DTYPE):
        model(images.double())
    model(images)                                               # float32 passes


LATENT_MODELS = {
    "DCGAN generator": (DCGANGenerator, torch.randn(2, 100)),
    "WGAN-GP generator": (WGANGPGenerator, torch.randn(2, 128)),
    "StyleGAN generator": (StyleGenerator, torch.randn(2, 64)),
    "toy generator": (lambda: MLPGenerator(3, 2), torch.randn(2, 3)),
    "toy discriminator": (lambda: MLPDiscriminator(2), torch.randn(2, 2)),
}


@pytest.mark.parametrize("name", list(LATENT_MODELS))
def test_every_latent_model_refuses_float64_codes_with_the_conversion(name):
    build, codes = LATENT_MODELS[name]
    model = build().eval()
    with pytest.raises(ValueError, match=r"(z|samples) are torch\.float64 .* \.float\(\)"):
        model(codes.double())
    model(codes)


def test_stylegan_synthesis_refuses_float64_styles():
    generator = StyleGenerator()
    ws = generator.map(torch.randn(2, 64))[:, None].expand(-1, generator.num_layers, -1)
    with pytest.raises(ValueError, match=r"ws are torch\.float64"):
        generator.synthesise(ws.double())


CRITICS = {
    "classifier A": (lambda: build_classifier("A"), GREY),
    "classifier E": (lambda: build_classifier("E"), GREY),
    "WGAN-GP critic": (WGANGPCritic, GREY),
    "DCGAN discriminator": (DCGANDiscriminator, GREY),
    "StyleGAN discriminator": (StyleDiscriminator, torch.rand(2, 1, 32, 32)),
    "AdvGAN generator": (PerturbationGenerator, GREY),
    "AdvGAN discriminator": (PerturbationDiscriminator, GREY),
}


@pytest.mark.parametrize("name", list(CRITICS))
@pytest.mark.parametrize("bad, message", [
    (lambda x: x * 255, r"must lie in \[0, 1\], got values in \[.*\]; .*divide 0…255 pixels by 255"),
    (lambda x: (x - 0.1307) / 0.3081, r"must lie in \[0, 1\].*undo a Normalize transform"),
    (lambda x: x + 0.01, r"must lie in \[0, 1\].*clamp"),
    (lambda x: x.masked_fill(x > 0.9, math.nan), "contain NaN or Inf"),
], ids=["0..255", "normalised", "past 1", "NaN"])
def test_a_model_in_eval_mode_refuses_nan_and_out_of_range_images(name, bad, message):
    build, images = CRITICS[name]
    model = build().eval()
    with pytest.raises(ValueError, match=f"the input of .*{message}"):
        model(bad(images))


def test_values_are_checked_only_for_predictions_not_for_training_or_gradient_steps():
    """The documented rule: training steps (train mode) and gradient steps (inputs that require gradients)
    are not re-checked, and float rounding just outside [0, 1] (BPDA's x + (g(x) − x)) passes."""
    classifier, bright = build_classifier("A"), GREY * 255
    assert torch.isfinite(classifier.train()(bright)).all()
    classifier.eval()
    assert torch.isfinite(classifier(bright.requires_grad_(True))).all()
    classifier(GREY.clamp(min=0.5) + 1e-7)                      # a hair above 1: float rounding, accepted
    with pytest.raises(ValueError, match="must lie in"):
        classifier(bright.detach())


@pytest.mark.parametrize("make, message", [
    (lambda: JSMA(tiny_classifier(), chunk=0), "chunk must be an integer ≥ 1, got 0"),
    (lambda: JSMA(tiny_classifier(), chunk=2.5), "chunk must be an integer ≥ 1, got 2.5"),
    (lambda: FGSM(tiny_classifier(), 8), r"eps = 8 is an ℓ∞ budget larger than the whole pixel range.*8/255"),
    (lambda: PGD(tiny_classifier(), 1.5, 10), "eps = 1.5 is an ℓ∞ budget larger"),
    (lambda: IFGSM(tiny_classifier(), 2.0, 10), "eps = 2 is an ℓ∞ budget larger"),
    (lambda: RandFGSM(tiny_classifier(), 8, 0.05), "eps = 8 is an ℓ∞ budget larger"),
    (lambda: PerturbationGenerator(eps=8), "eps = 8 is an ℓ∞ budget larger"),
    (lambda: adversarial_training.make_adversary("fgsm", 8), "eps = 8 is an ℓ∞ budget larger"),
    (lambda: adversarial_training.make_adversary("pgd", 0.1, pgd_steps=0), "pgd_steps must be an integer ≥ 1"),
    (lambda: make_loaders("mnist5k", 3), "profile must be a profile name .* got int"),
    (lambda: make_loaders("mnist5k", "smoke", seed=-1), r"seed must be an integer in \[0, 2\*\*32\), got -1"),
    (lambda: make_loaders("mnist5k", "smoke", seed=2**32), r"seed must be an integer in \[0, 2\*\*32\)"),
    (lambda: make_loaders("mnist5k", "smoke", seed=1.5), "seed must be an integer"),
    (lambda: make_loaders("mnist5k", "smoke", seed="0"), "seed must be an integer"),
    (lambda: make_loaders("mnist5k", PROFILES["smoke"], batch_size="64"), "batch_size must be an integer ≥ 1"),
    (lambda: make_loaders("mnist5k", "smoke", batch_size=1.5), "batch_size must be an integer ≥ 1, got 1.5"),
    (lambda: make_loaders("mnist5k", "smoke", batch_size=True), "batch_size must be an integer ≥ 1, got True"),
    (lambda: evaluate.predict(tiny_classifier(), GREY, batch_size=0), "batch_size must be an integer ≥ 1"),
    (lambda: evaluate.predict(tiny_classifier(), GREY.double()), WRONG_DTYPE),
    (lambda: evaluate.predict(tiny_classifier(), GREY * 255), r"images must lie in \[0, 1\]"),
    (lambda: evaluate.predict(lambda x: x, GREY), "model must be a torch.nn.Module, got function"),
], ids=["JSMA chunk 0", "JSMA chunk 2.5", "FGSM eps 8", "PGD eps 1.5", "IFGSM eps 2", "RandFGSM eps 8",
        "AdvGAN eps 8", "adversary eps 8", "adversary pgd_steps 0", "loaders profile 3", "loaders seed -1",
        "loaders seed 2**32", "loaders seed 1.5", "loaders seed str", "loaders batch str", "loaders batch 1.5",
        "loaders batch True", "predict batch 0", "predict float64", "predict 0..255", "predict a function"])
def test_bad_settings_are_refused_before_anything_runs(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_the_whole_box_is_still_a_valid_linf_budget():
    assert FGSM(tiny_classifier(), 1.0).eps == 1.0 and PGD(tiny_classifier(), 0.0, 1).eps == 0.0


@pytest.mark.parametrize("call, shape", [
    (lambda: APEGenerator()(torch.rand(2, 1, 30, 30)), r"got shape \(2, 1, 30, 30\)"),
    (lambda: APEDiscriminator()(torch.rand(3, 1, 30, 30)), r"got shape \(3, 1, 30, 30\)"),
    (lambda: CycleGenerator(width=2, blocks=1)(torch.rand(2, 1, 30, 30)), r"got shape \(2, 1, 30, 30\)"),
    (lambda: StyleDiscriminator()(torch.rand(4, 1, 28, 28)), r"N×1×32×32 images, got shape \(4, 1, 28, 28\); pad"),
    (lambda: StyleDiscriminator()(torch.rand(4, 3, 32, 32)), r"N×1×32×32 images, got shape \(4, 3, 32, 32\)"),
    (lambda: PerturbationDiscriminator()(torch.rand(4, 3, 28, 28)), r"N×1×28×28 images, got shape \(4, 3, 28, 28\)"),
], ids=["APE-GAN G", "APE-GAN D", "CycleGAN G", "StyleGAN D 28", "StyleGAN D colour", "AdvGAN D colour"])
def test_shape_errors_name_the_shape_of_the_batch(call, shape):
    with pytest.raises(ValueError, match=shape):
        call()


def test_jsma_keeps_its_settings_during_a_call_and_keeps_its_pixel_budget():
    attack = JSMA(tiny_classifier(), gamma=0.02, chunk=1)
    def settings():
        return {key: value for key, value in vars(attack).items() if not key.startswith("_")}   # not the caches

    before = settings()
    adversarial = attack(GREY, target=TARGETS)
    assert settings() == before and attack.eps == 0.0           # nothing rewritten by the call
    budget = 2 * math.floor(0.02 * 28 * 28 / 2)                  # 14 pixels: whole pairs within 2% of 784
    assert attack.budget(GREY) == budget
    changed = perturbation_norms(GREY, adversarial)["l0"]
    assert (changed <= budget).all() and (changed % 2 == 0).all() and changed.sum() > 0


@pytest.mark.parametrize("method, attack_class", [("fgsm", "FGSM"), ("pgd", "PGD"), ("ensemble", "FGSM")])
def test_adversarial_training_builds_its_attack_once_and_reuses_it(monkeypatch, method, attack_class):
    built = []
    original = getattr(adversarial_training, attack_class)

    class Counted(original):
        def __init__(self, *args, **kwargs):
            built.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(adversarial_training, attack_class, Counted)
    trained, other = tiny_classifier(), tiny_classifier()
    adversary = adversarial_training.make_adversary(method, 0.1, pgd_steps=2, static_models=[other], seed=0)
    statics = len(built)                                         # the ensemble's frozen copies, built up front
    for _ in range(6):
        x_adv = adversary(trained, GREY, LABELS)
        assert x_adv.shape == GREY.shape and (x_adv - GREY).abs().max() <= 0.1 + 1e-6
    assert [model is trained for model in built[statics:]] == [True]    # one attack for the trained model
    if method == "fgsm":
        assert torch.equal(adversary(trained, GREY, LABELS), original(trained, 0.1)(GREY, LABELS))
        adversary(other, GREY, LABELS)                            # a different model gets its own attack
        assert built[-1] is other and len(built) == statics + 2


def test_evaluation_works_for_a_model_without_parameters():
    black, white = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    images = torch.cat([black, white, white])
    assert evaluate.predict(PixelMeans(), images).tolist() == [0, 9, 9]
    assert evaluate.accuracy(PixelMeans(), images, torch.tensor([0, 9, 3])) == pytest.approx(2 / 3)
    assert torch.equal(evaluate.embed(nn.Flatten(), images), images.flatten(1))
    assert evaluate.predict(PixelMeans(), images.double()).tolist() == [0, 9, 9]   # no weights: any float
    adversarial = FGSM(PixelMeans(), 0.25)(torch.full((2, 1, 4, 4), 0.5), torch.tensor([9, 9]))
    assert torch.allclose(adversarial, torch.full_like(adversarial, 0.25))   # ∇ favours class 9: step down
