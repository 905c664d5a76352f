"""The GAN, feature-matching, KL and mel losses on values worked out by hand."""

from __future__ import annotations

import math

import torch

from rvc.train.losses import discriminator_loss, feature_loss, generator_loss, kl_loss, mel_loss


def test_discriminator_loss_is_least_squares_summed_over_discriminators():
    real = [torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5]])]
    fake = [torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5]])]
    # disc 1: mean((1-r)^2) = 0.5, mean(f^2) = 0.5; disc 2: 0.25 + 0.25
    assert torch.isclose(discriminator_loss(real, fake).total, torch.tensor(1.5))


def test_generator_loss_wants_fake_scores_of_one():
    assert torch.isclose(generator_loss([torch.tensor([1.0, 1.0]), torch.tensor([0.0])]).total, torch.tensor(1.0))


def test_feature_loss_is_twice_the_summed_mean_l1_and_trains_only_the_generator():
    real = [[torch.ones(2, 3, requires_grad=True), torch.zeros(4)]]
    fake = [[torch.zeros(2, 3, requires_grad=True), torch.full((4,), 0.5)]]
    loss = feature_loss(real, fake).total
    assert torch.isclose(loss, torch.tensor(2 * (1.0 + 0.5)))
    loss.backward()
    assert real[0][0].grad is None
    assert fake[0][0].grad is not None


def test_kl_loss_matches_the_closed_form_per_valid_frame():
    z_p = torch.tensor([[[1.0, 2.0, 9.0]]])
    m_p = torch.zeros(1, 1, 3)
    logs_p = torch.full((1, 1, 3), math.log(2.0))
    logs_q = torch.zeros(1, 1, 3)
    mask = torch.tensor([[[1.0, 1.0, 0.0]]])  # the last frame is padding
    per_frame = [math.log(2.0) - 0.5 + 0.5 * z**2 / 4.0 for z in (1.0, 2.0)]
    assert torch.isclose(kl_loss(z_p, logs_q, m_p, logs_p, mask), torch.tensor(sum(per_frame) / 2))


def test_losses_are_float32_for_half_inputs():
    half = torch.ones(1, 2, 3, dtype=torch.float16)
    assert kl_loss(half, half, half, half, half).dtype == torch.float32
    assert mel_loss(half, half * 2).dtype == torch.float32
    assert torch.isclose(mel_loss(half, half * 2), torch.tensor(1.0))
