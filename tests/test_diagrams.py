import matplotlib
import pytest
import torch
from torch import nn

from gancourse.diagrams import Box, layer_boxes, plot_architectures
from gancourse.models.cyclegan import CycleGenerator, ResidualBlock
from gancourse.models.dcgan import DCGANGenerator

matplotlib.use("Agg")


def test_the_dcgan_generator_diagram_is_read_from_the_module():
    G = DCGANGenerator(100, (1, 28, 28)).train()
    before = {name: value.clone() for name, value in G.state_dict().items()}
    boxes = layer_boxes(G, lambda: G(torch.randn(2, 100)))
    assert boxes == [Box("Linear 100→6272", (6272,)),
                     Box("Unflatten · BatchNorm2d · ReLU", (128, 7, 7)),
                     Box("ConvTranspose2d 4×4/2 · BatchNorm2d · ReLU", (64, 14, 14)),
                     Box("ConvTranspose2d 4×4/2 · Sigmoid", (1, 28, 28))]
    assert G.training                                   # mode restored
    assert all(torch.equal(before[name], value) for name, value in G.state_dict().items())  # BN stats untouched
    assert not any(module._forward_hooks for module in G.modules())                        # hooks removed


def test_padding_joins_the_next_box_and_atomic_modules_show_their_formula():
    C = CycleGenerator(1, width=4, blocks=2)
    boxes = layer_boxes(C, lambda: C(torch.rand(1, 1, 12, 12)), atomic=(ResidualBlock,))
    assert boxes[0] == Box("ReflectionPad2d · Conv2d 7×7/1 · InstanceNorm2d · ReLU", (4, 12, 12))
    assert [box.label for box in boxes].count("ResidualBlock: x + IN(conv(ReLU(IN(conv(x)))))") == 2
    assert boxes[-1] == Box("ReflectionPad2d · Conv2d 7×7/1 · Sigmoid", (1, 12, 12))

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear, self.squash = nn.Linear(5, 2), nn.Tanh()

        def forward(self, x):
            return self.squash(self.linear(x))

    model = nn.Sequential(nn.Linear(3, 5), Head())
    described = layer_boxes(model, lambda: model(torch.zeros(1, 3)), atomic=(Head,))
    assert described == [Box("Linear 3→5", (5,)), Box("Head [Linear, Tanh]", (2,))]


def test_a_run_that_never_calls_the_model_is_refused():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="never called"):
        layer_boxes(model, lambda: None)


def test_side_by_side_columns_share_one_scale():
    figure = plot_architectures([("a", [Box("x", (1,))], "input 1"),
                                 ("b", [Box("y", (2,)), Box("z", (3,)), Box("w", None)], None)])
    left, right = figure.axes
    assert left.get_ylim() == right.get_ylim()
    assert [t.get_text() for t in left.texts if t.get_text()] == ["input 1", "x\n→ 1"]
    assert [t.get_text() for t in right.texts if t.get_text()] == ["y\n→ 2", "z\n→ 3", "w"]
    with pytest.raises(ValueError, match="at least one"):
        plot_architectures([])


def test_the_two_cycles_are_drawn_from_the_networks_outputs():
    from gancourse.diagrams import plot_two_cycles
    torch.manual_seed(0)
    G, F = CycleGenerator(1, width=4, blocks=1).train(), CycleGenerator(1, width=4, blocks=1).eval()
    a, b = torch.rand(1, 12, 12), torch.rand(1, 12, 12)
    a_before = a.clone()
    figure = plot_two_cycles(G, F, a, b, names=("Sneaker", "Boot"))
    assert G.training and not F.training and torch.equal(a, a_before)      # modes kept, input untouched
    texts = [text.get_text() for axis in figure.axes for text in axis.texts]
    with torch.no_grad():
        expected = (F.eval()(G.eval()(a.unsqueeze(0)))[0] - a).abs().mean().item()
    assert f"cycle loss ‖F(G(a)) − a‖₁ = {expected:.3f}" in texts
    assert "D_B: a real Boot or a fake?" in texts and "D_A: a real Sneaker or a fake?" in texts
    with pytest.raises(ValueError, match="single images"):
        plot_two_cycles(G, F, a.unsqueeze(0), b)
    matplotlib.pyplot.close(figure)
