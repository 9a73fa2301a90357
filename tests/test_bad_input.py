"""The bad-input audit: every public model, trainer, widget, helper and CLI command rejects wrong shapes,
dtypes, ranges, NaN, unknown names and out-of-range settings with a message that says what was wrong
(and, where there is one, the fix). Attacks, defenses, data and losses have their own tests of this kind
(test_attacks, test_defense_properties, test_data, test_losses_and_gan_training); this file covers the rest.
"""

import math
import re

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from gancourse import paths, widgets
from gancourse.cli import main
from gancourse.matrix import write_matrix
from gancourse.models.advgan import PerturbationGenerator
from gancourse.models.classifiers import build_classifier
from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancourse.models.stylegan import StyleDiscriminator, StyleGenerator
from gancourse.models.toy import MLPDiscriminator, MLPGenerator
from gancourse.models.wgan_gp import WGANGPCritic, WGANGPGenerator
from gancourse.runtime import start_chapter
from gancourse.train.classifier import train_classifier
from gancourse.train.gan import GANSetup, train_gan
from gancourse.train.loop import endless

GREY = torch.rand(2, 1, 28, 28)
CLASSES = [f"class {k}" for k in range(10)]


def loader():
    return DataLoader(TensorDataset(GREY, torch.tensor([0, 1])), batch_size=2)


def gan_setup(**changes):
    G, D = MLPGenerator(2, 2), MLPDiscriminator(2)
    settings = {"generator": G, "discriminator": D, "g_optimizer": torch.optim.Adam(G.parameters()),
                "d_optimizer": torch.optim.Adam(D.parameters()), **changes}
    return GANSetup(**settings)


CASES = {
    # models: constructors
    "unknown classifier": (lambda: build_classifier("F"), "unknown classifier 'F'; choose one of A, B, C, D, E"),
    "DCGAN latent_dim 0": (lambda: DCGANGenerator(latent_dim=0), "latent_dim must be an integer ≥ 1, got 0"),
    "DCGAN 30×30 images": (lambda: DCGANGenerator(image_shape=(1, 30, 30)), "H divisible by 4"),
    "DCGAN negative classes": (lambda: DCGANDiscriminator(num_classes=-1), "num_classes must be an integer ≥ 0"),
    "WGAN-GP latent 2.5": (lambda: WGANGPGenerator(2.5), "latent_dim must be an integer"),
    "toy generator no layers": (lambda: MLPGenerator(2, 2, layers=0), "layers must be an integer ≥ 1"),
    "StyleGAN latent 0": (lambda: StyleGenerator(latent_dim=0), "latent_dim must be an integer ≥ 1"),
    "AdvGAN negative eps": (lambda: PerturbationGenerator(eps=-0.1), "must be positive"),
    # models: inputs
    "classifier 3×32×32": (lambda: build_classifier("A")(torch.rand(2, 3, 32, 32)),
                           r"classifier A takes N×1×28×28 images, got shape \(2, 3, 32, 32\)"),
    "classifier, no batch dim": (lambda: build_classifier("C")(torch.rand(1, 28, 28)), "unsqueeze"),
    "classifier uint8": (lambda: build_classifier("D")(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)),
                         r"float\(\) / 255"),
    "DCGAN z of 64": (lambda: DCGANGenerator()(torch.randn(4, 64)), r"z must be N×100.*torch.randn\(n, 100\)"),
    "DCGAN z as N×100×1×1": (lambda: DCGANGenerator()(torch.randn(4, 100, 1, 1)), "z must be N×100"),
    "cGAN label 10": (lambda: DCGANGenerator(num_classes=10)(torch.randn(2, 100), torch.tensor([3, 10])),
                      r"knows 10 classes \(0 … 9\)"),
    "cGAN one-hot labels": (lambda: DCGANGenerator(num_classes=10)(torch.randn(2, 100), torch.eye(10)[:2]),
                            "one class index per image"),
    "cGAN without labels": (lambda: DCGANDiscriminator(num_classes=10)(GREY), r"call it as D\(x, labels\)"),
    "DCGAN D 32×32": (lambda: DCGANDiscriminator()(torch.rand(2, 1, 32, 32)), "takes N×1×28×28"),
    "WGAN-GP z NaN shape": (lambda: WGANGPGenerator()(torch.randn(2, 100)), "z must be N×128"),
    "WGAN-GP critic 3 channels": (lambda: WGANGPCritic()(torch.rand(2, 3, 28, 28)), "critic takes N×1×28×28"),
    "toy D wrong width": (lambda: MLPDiscriminator(2)(torch.randn(5, 3)), "samples must be N×2"),
    "toy G 1-D z": (lambda: MLPGenerator(2, 2)(torch.randn(5)), "z must be N×2"),
    "StyleGAN int z": (lambda: StyleGenerator()(torch.zeros(2, 64, dtype=torch.long)), "z must be floats"),
    "StyleGAN D 28×28": (lambda: StyleDiscriminator()(GREY), "pad_to_32"),
    "AdvGAN G colour input": (lambda: PerturbationGenerator()(torch.rand(2, 3, 28, 28)), "N×1×H×W"),
    "AI-GAN target 12": (lambda: PerturbationGenerator(num_classes=10)(GREY, torch.tensor([1, 12])),
                         "knows 10 classes"),
    # trainers
    "classifier 0 epochs": (lambda: train_classifier(build_classifier("D"), loader(), 0), "epochs must be"),
    "classifier 1.5 epochs": (lambda: train_classifier(build_classifier("D"), loader(), 1.5), "epochs must be"),
    "classifier NaN lr": (lambda: train_classifier(build_classifier("D"), loader(), 1, lr=math.nan),
                          "lr must be a finite number"),
    "classifier weight 2": (lambda: train_classifier(build_classifier("D"), loader(), 1, adversarial_weight=2),
                            r"adversarial_weight must be in \[0, 1\]"),
    "GAN d_steps 0": (lambda: gan_setup(d_steps=0), "d_steps must be an integer ≥ 1"),
    "GAN negative penalty": (lambda: gan_setup(gradient_penalty_weight=-1.0), "must be non-negative"),
    "GAN clip 0": (lambda: gan_setup(weight_clip=0.0), "weight_clip must be positive"),
    "GAN unknown loss": (lambda: gan_setup(loss="hinge-ish"), "hinge-ish"),
    "GAN -1 iterations": (lambda: train_gan(gan_setup(), endless(loader()), -1), "iterations must be an integer ≥ 0"),
    "GAN save_every 0": (lambda: train_gan(gan_setup(), endless(loader()), 1, save_every=0), "save_every"),
    # widgets
    "slider 3-D images": (lambda: widgets.epsilon_slider(build_classifier("A"), GREY[0], torch.tensor([0]), CLASSES),
                          "unsqueeze"),
    "slider labels short": (lambda: widgets.epsilon_slider(build_classifier("A"), GREY, torch.tensor([0]), CLASSES),
                            r"expected shape \(2,\)"),
    "slider no classes": (lambda: widgets.epsilon_slider(build_classifier("A"), GREY, torch.tensor([0, 1]), []),
                          "class_names is empty"),
    "slider negative eps": (lambda: widgets.epsilon_slider(build_classifier("A"), GREY, torch.tensor([0, 1]), CLASSES,
                                                           max_eps=-0.1), "max_eps must be positive"),
    "interpolation unpaired": (lambda: widgets.latent_interpolation(DCGANGenerator(), torch.randn(2, 100),
                                                                    torch.randn(3, 100)), "must pair up"),
    "interpolation wrong dim": (lambda: widgets.latent_interpolation(DCGANGenerator(), torch.randn(2, 10),
                                                                     torch.randn(2, 10)), "starts must be N×100"),
    "cGAN widget no samples": (lambda: widgets.conditional_generation(DCGANGenerator(num_classes=10), CLASSES, 100,
                                                                      samples=0), "samples must be"),
    "explorer images differ": (lambda: widgets.defense_gan_explorer(WGANGPGenerator(), 128, build_classifier("A"),
                                                                    GREY, GREY[:1], CLASSES), "must pair up"),
    "explorer max_steps 1": (lambda: widgets.defense_gan_explorer(WGANGPGenerator(), 128, build_classifier("A"),
                                                                  GREY, GREY, CLASSES, max_steps=1), "max_steps"),
    "explorer NaN image": (lambda: widgets.defense_gan_explorer(WGANGPGenerator(), 128, build_classifier("A"),
                                                                GREY, torch.full_like(GREY, math.nan), CLASSES),
                           "adversarial contain NaN"),
    # helpers
    "chapter unknown profile": (lambda: start_chapter("fast"), "unknown profile 'fast'; choose one of"),
    "chapter unknown dataset": (lambda: start_chapter("smoke", "svhn"), "unknown dataset 'svhn'"),
    "chapter negative seed": (lambda: start_chapter("smoke", "mnist5k", -1), r"seed must be an integer in \[0, 2\*\*32\)"),
    "chapter seed 1.5": (lambda: start_chapter("smoke", "mnist5k", 1.5), "seed must be an integer"),
    "matrix nothing to write": (lambda: write_matrix([], "unused"), "needs at least one attack and one defense"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_with_a_message_that_names_it(case):
    call, message = CASES[case]
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_configure_refuses_a_file_for_a_folder(tmp_path):
    a_file = tmp_path / "checkpoints"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file; pass a folder"):
        paths.configure(checkpoint_dir=a_file)


def test_valid_input_still_passes_the_new_checks():
    """The checks must not reject what the book does: each model on its own input, conditional labels."""
    assert build_classifier("A")(GREY).shape == (2, 10)
    assert DCGANGenerator(num_classes=10)(torch.randn(2, 100), torch.tensor([0, 9])).shape == (2, 1, 28, 28)
    assert DCGANDiscriminator(num_classes=10)(GREY, torch.tensor([0, 9])).shape == (2,)
    assert WGANGPCritic()(WGANGPGenerator()(torch.randn(2, 128))).shape == (2,)
    assert MLPDiscriminator(2)(MLPGenerator(3, 2)(torch.randn(4, 3))).shape == (4,)
    assert PerturbationGenerator(num_classes=10)(GREY, torch.tensor([1, 2])).abs().max() <= 0.3


CLI_CASES = {
    "execute unknown chapter": (["execute", "99", "--profile", "smoke"], "no chapter '99'"),
    "execute unknown dataset": (["execute", "01", "--profile", "smoke", "--dataset", "svhn"],
                                "unknown dataset 'svhn'"),
    "execute negative seed": (["execute", "01", "--profile", "smoke", "--seed", "-3"], r"--seed must be in \[0, 2\*\*32\)"),
    "matrix zero images": (["matrix", "--profile", "smoke", "--dataset", "mnist5k", "--images", "0"],
                           "--images must be at least 1, got 0"),
    "matrix unknown model": (["matrix", "--profile", "smoke", "--model", "Z"], "--model 'Z' is not one of"),
    "matrix unknown dataset": (["matrix", "--profile", "smoke", "--dataset", "svhn"], "unknown dataset 'svhn'"),
    "time-chapters unknown chapter": (["time-chapters", "42", "--profile", "smoke"], "no chapter '42'"),
    "set-repository without https": (["set-repository", "github.com/x/y"], "https://"),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_commands_reject_bad_arguments_in_one_line(case, capsys):
    argv, message = CLI_CASES[case]
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"gancourse {argv[0]}: ") and len(error.strip().splitlines()) == 1
    assert re.search(message, error), error


@pytest.mark.parametrize("argv", [["edition", "student"], ["prepare"], ["matrix", "--profile", "smoke", "--output"]])
def test_cli_commands_refuse_to_write_over_a_file(argv, tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("keep me")
    assert main([*argv, str(a_file)]) == 1
    assert "is a file; give a folder to write into" in capsys.readouterr().err
    assert a_file.read_text() == "keep me"


@pytest.mark.parametrize("argv, message", [(["execute", "--profile", "fast"], "invalid choice: 'fast'"),
                                           (["edition", "teacher", "out"], "invalid choice: 'teacher'"),
                                           (["matrix", "--images", "many"], "invalid int value: 'many'")])
def test_argparse_rejects_unknown_choices_with_the_valid_ones(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_zoo_rejects_a_wrong_bundle_seed_target_or_domain(tmp_path):
    from gancourse.checkpoints import CheckpointStore
    from gancourse.data import make_loaders
    from gancourse.profiles import PROFILES
    from gancourse.zoo import Zoo

    smoke, store = PROFILES["smoke"], CheckpointStore(tmp_path)
    bundle = make_loaders("mnist5k", smoke, seed=0)
    with pytest.raises(TypeError, match="DataBundle of gancourse.data.make_loaders, got str"):
        Zoo(smoke, "mnist5k", 0, store=store)
    with pytest.raises(TypeError, match="profile must be a gancourse.profiles.Profile"):
        Zoo("smoke", bundle, 0, store=store)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32\), got -1"):
        Zoo(smoke, bundle, -1, store=store)
    zoo = Zoo(smoke, bundle, 0, store=store)
    with pytest.raises(ValueError, match="target_class must be a class index 0 … 9"):
        zoo.advgan("A", target_class=10)
    with pytest.raises(ValueError, match="class_index must be one of 0…9"):
        zoo.cyclegan(7, 12)
    assert list(tmp_path.iterdir()) == []            # nothing was trained or written before the error


@pytest.mark.parametrize("torch_version, numpy_version, clash", [
    ("2.1.0+cu121", "2.1.3", True), ("2.3.1", "2.0.0", True), ("2.1.0", "1.26.4", False),
    ("2.4.0", "2.0.0", False), ("2.14.1", "2.3.5", False)])
def test_an_old_torch_with_numpy_2_is_refused_at_import_with_the_fix(torch_version, numpy_version, clash):
    from gancourse.compat import check_numpy_abi

    if clash:
        with pytest.raises(ImportError, match=r"pip install 'numpy<2'\) or torch 2.4 or later"):
            check_numpy_abi(torch_version, numpy_version)
    else:
        check_numpy_abi(torch_version, numpy_version)
