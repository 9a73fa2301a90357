import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gancourse.checkpoints import CheckpointStore
from gancourse.evaluate import accuracy, predict
from gancourse.models.classifiers import CLASSIFIERS, build_classifier
from gancourse.train.classifier import train_classifier


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def test_model_a_has_the_papers_layer_sizes():
    # conv 1→64 5×5, conv 64→64 5×5 (28 → 12 'valid' with stride 2), FC 64·12·12 → 128, FC 128 → 10
    expected = (25 * 64 + 64) + (25 * 64 * 64 + 64) + (64 * 12 * 12 * 128 + 128) + (128 * 10 + 10)
    assert parameter_count(build_classifier("A")) == expected


def test_model_b_reduces_to_one_by_one_before_the_classifier():
    # conv 1→64 8×8, conv 64→128 6×6, conv 128→128 5×5, FC 128 → 10
    expected = (64 * 64 + 64) + (36 * 64 * 128 + 128) + (25 * 128 * 128 + 128) + (128 * 10 + 10)
    assert parameter_count(build_classifier("B")) == expected


def test_models_d_and_e_differ_only_by_dropout():
    d, e = build_classifier("D"), build_classifier("E")
    assert parameter_count(d) == parameter_count(e) == 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10
    assert any(isinstance(m, nn.Dropout) for m in d) and not any(isinstance(m, nn.Dropout) for m in e)


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_every_classifier_maps_a_batch_to_ten_logits(name):
    model = build_classifier(name).eval()
    images = torch.rand(5, 1, 28, 28)
    logits = model(images)
    assert logits.shape == (5, 10)
    assert torch.allclose(model(images[2:3]), logits[2:3], atol=1e-5)  # batch consistency


def test_unknown_classifier_is_rejected():
    with pytest.raises(ValueError, match="A, B, C, D, E"):
        build_classifier("F")


class Threshold(nn.Module):
    """Predicts class 1 when the mean pixel exceeds 0.5: a model whose accuracy is known by hand."""

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, images):
        score = images.mean(dim=(1, 2, 3)) - 0.5 + self.bias
        return torch.stack([-score, score], dim=1)


def test_accuracy_known_answer_and_mode_restored():
    images = torch.stack([torch.full((1, 2, 2), v) for v in (0.1, 0.9, 0.8, 0.2)])
    labels = torch.tensor([0, 1, 0, 0])
    model = Threshold().train()
    assert predict(model, images, batch_size=3).tolist() == [0, 1, 1, 0]
    assert accuracy(model, images, labels, batch_size=3) == 0.75
    assert model.training
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        accuracy(model, images, labels[:3])
    with pytest.raises(ValueError, match="N×C×H×W"):
        predict(model, images[0])


def small_problem(seed=0, n=256):
    """Noise images; class 1 has a brighter top half (learnable by any of the models)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=generator)
    images = 0.5 * torch.rand(n, 1, 28, 28, generator=generator)
    images[labels == 1, :, :14] += 0.5
    return images, labels


def test_training_lowers_the_loss_and_learns_a_learnable_rule():
    torch.manual_seed(0)
    images, labels = small_problem()
    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(0))
    model = build_classifier("E")
    history = train_classifier(model, loader, epochs=6, lr=1e-3)
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["accuracy"]) == 6
    assert not model.training
    assert accuracy(model, images, labels) > 0.8


class InterruptingLoader:
    """Yields the wrapped loader's batches, but raises during the pass number ``fail_on_pass``."""

    def __init__(self, loader, fail_on_pass):
        self.loader, self.fail_on_pass, self.passes = loader, fail_on_pass, 0

    def __iter__(self):
        self.passes += 1
        for index, batch in enumerate(self.loader):
            if self.passes == self.fail_on_pass and index == 2:
                raise KeyboardInterrupt("killed mid-epoch")
            yield batch


def test_an_interrupted_training_resumes_after_the_last_finished_epoch(tmp_path):
    images, labels = small_problem()
    loader = DataLoader(TensorDataset(images, labels), batch_size=32)
    progress = CheckpointStore(tmp_path).progress("net", {"epochs": 3})
    torch.manual_seed(0)
    model = build_classifier("E")
    interrupted = InterruptingLoader(loader, fail_on_pass=2)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(model, interrupted, epochs=3, progress=progress)
    saved = progress.load()
    assert saved["step"] == 1 and len(saved["history"]["loss"]) == 1

    resumed_loader = InterruptingLoader(loader, fail_on_pass=0)
    history = train_classifier(build_classifier("E"), resumed_loader, epochs=3, progress=progress)
    assert resumed_loader.passes == 2  # epochs 1 and 2 only
    assert len(history["loss"]) == 3 and history["loss"][0] == saved["history"]["loss"][0]
    assert progress.load()["step"] == 3   # the checkpoint store deletes it once the model is stored


def test_training_arguments_are_checked():
    loader = DataLoader(TensorDataset(*small_problem(n=8)), batch_size=4)
    with pytest.raises(ValueError, match="epochs"):
        train_classifier(build_classifier("E"), loader, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        train_classifier(build_classifier("E"), loader, epochs=1, lr=-1.0)
