"""The Dirac-GAN: its gradients against autograd on the GAN losses, the linearised step's known stretch, and the
three behaviours chapter 01 shows (simultaneous steps spiral out, alternating ones circle, R1 converges)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gancourse.dirac_gan import discriminator_gradient, generator_gradient, train_dirac_gan


@pytest.mark.parametrize("theta, psi", [(1.0, 1.0), (-0.7, 2.3), (0.3, -1.5)])
@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_the_gradients_are_autograds_of_the_gan_losses(theta, psi, gamma):
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    p = torch.tensor(psi, dtype=torch.float64, requires_grad=True)
    real, fake = p * 0.0, p * t                     # D's logits at the data point 0 and at the generator's θ
    d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
              + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)) + gamma / 2 * p ** 2)
    g_loss = -F.binary_cross_entropy_with_logits(p * t, torch.zeros_like(fake))   # log(1 − D(θ)), its own graph
    d_psi, = torch.autograd.grad(d_loss, p)
    g_theta, = torch.autograd.grad(g_loss, t)
    assert discriminator_gradient(t.detach(), p.detach(), gamma).item() == pytest.approx(d_psi.item(), rel=1e-12)
    assert generator_gradient(t.detach(), p.detach()).item() == pytest.approx(g_theta.item(), rel=1e-12)


def test_a_simultaneous_step_near_the_equilibrium_stretches_by_the_known_factor():
    lr = 0.3
    run = train_dirac_gan(1e-5, 2e-5, lr=lr, steps=1)
    distances = run.distances()
    assert (distances[1] / distances[0]).item() == pytest.approx(math.sqrt(1 + lr ** 2 / 4), rel=1e-9)


def test_a_simultaneous_step_anywhere_multiplies_the_squared_distance_by_one_plus_h_sigma_squared():
    theta, psi, lr = 0.7, -1.3, 0.3
    run = train_dirac_gan(theta, psi, lr=lr, steps=1)
    squared = run.distances() ** 2
    expected = 1 + lr ** 2 * torch.sigmoid(torch.tensor(psi * theta, dtype=torch.float64)).item() ** 2
    assert (squared[1] / squared[0]).item() == pytest.approx(expected, rel=1e-12)


def test_r1_makes_simultaneous_steps_converge_too():
    assert train_dirac_gan(1.0, 1.0, lr=0.1, steps=2000, r1_gamma=1.0).distances()[-1] < 1e-6


def test_simultaneous_steps_spiral_out_alternating_ones_circle_and_r1_converges():
    start = math.sqrt(2)
    simultaneous = train_dirac_gan(1.0, 1.0, lr=0.1, steps=2000).distances()
    alternating = train_dirac_gan(1.0, 1.0, lr=0.1, steps=2000, update="alternating").distances()
    r1 = train_dirac_gan(1.0, 1.0, lr=0.1, steps=2000, update="alternating", r1_gamma=1.0).distances()
    assert torch.all(simultaneous[1:] > simultaneous[:-1]) and simultaneous[-1] > 2 * start
    assert 0.5 * start < alternating.min() and alternating.max() < 2 * start
    assert r1[-1] < 1e-3 * start


def test_the_run_keeps_every_point_and_rejects_bad_settings():
    run = train_dirac_gan(0.5, -0.5, lr=0.05, steps=7, update="alternating")
    assert run.points.shape == (8, 2) and run.points[0].tolist() == [0.5, -0.5]
    with pytest.raises(ValueError, match="update must be one of"):
        train_dirac_gan(update="jacobi")
    with pytest.raises(ValueError):
        train_dirac_gan(lr=0.0)
    with pytest.raises(ValueError):
        train_dirac_gan(r1_gamma=-1.0)
