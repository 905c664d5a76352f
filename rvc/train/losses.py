"""The losses RVC trains with (VITS / HiFi-GAN): least-squares GAN, feature matching, mel L1 and the flow's KL.

Every loss is computed in float32 even under mixed precision: the squared and exponentiated terms overflow
or lose the small differences that matter in half precision.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from rvc.synth.discriminators import FeatureMaps

FEATURE_MATCHING_WEIGHT = 2.0


class DiscriminatorLoss(NamedTuple):
    """The discriminators' loss and each one's real and generated terms (reported per discriminator)."""

    total: torch.Tensor
    real_terms: list[torch.Tensor]
    fake_terms: list[torch.Tensor]


class SummedLoss(NamedTuple):
    """A loss summed over the discriminators, with each discriminator's share."""

    total: torch.Tensor
    terms: list[torch.Tensor]


def discriminator_loss(real_scores: list[torch.Tensor], fake_scores: list[torch.Tensor]) -> DiscriminatorLoss:
    """LSGAN: each discriminator should score real audio 1 and generated audio 0, summed over discriminators.

    Summed as the original does (``loss += real + fake``), so the float32 total rounds like its total.
    """
    total = torch.zeros((), device=real_scores[0].device)
    real_terms, fake_terms = [], []
    for real, fake in zip(real_scores, fake_scores, strict=True):
        real_term, fake_term = torch.mean((1 - real.float()) ** 2), torch.mean(fake.float() ** 2)
        total = total + (real_term + fake_term)
        real_terms.append(real_term)
        fake_terms.append(fake_term)
    return DiscriminatorLoss(total, real_terms, fake_terms)


def generator_loss(fake_scores: list[torch.Tensor]) -> SummedLoss:
    """LSGAN: the generator wants every discriminator to score its audio 1."""
    total = torch.zeros((), device=fake_scores[0].device)
    terms = []
    for fake in fake_scores:
        term = torch.mean((1 - fake.float()) ** 2)
        total = total + term
        terms.append(term)
    return SummedLoss(total, terms)


def feature_loss(real_maps: list[FeatureMaps], fake_maps: list[FeatureMaps]) -> SummedLoss:
    """Mean L1 between the discriminators' inner activations on real and generated audio, summed, times 2.

    The real activations are detached: this loss trains the generator only. The total is one running sum over
    every layer of every discriminator, as in the original; the per-discriminator shares (detached, for
    reports) are summed separately, so they add up to the total only to rounding.
    """
    total = torch.zeros((), device=real_maps[0][0].device)
    terms = []
    for real_layers, fake_layers in zip(real_maps, fake_maps, strict=True):
        share = torch.zeros((), device=total.device)
        for real, fake in zip(real_layers, fake_layers, strict=True):
            layer = torch.mean(torch.abs(real.float().detach() - fake.float()))
            total = total + layer
            share = share + layer.detach()
        terms.append(share * FEATURE_MATCHING_WEIGHT)
    return SummedLoss(total * FEATURE_MATCHING_WEIGHT, terms)


def kl_loss(
    z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor, z_mask: torch.Tensor
) -> torch.Tensor:
    """KL between the posterior (sampled as z_p through the flow, scale logs_q) and the prior N(m_p, exp(logs_p)).

    All inputs are [B, C, T]; the sum over valid frames is divided by the number of valid frames (not by C),
    as in VITS.
    """
    z_p, logs_q, m_p, logs_p, z_mask = (t.float() for t in (z_p, logs_q, m_p, logs_p, z_mask))
    kl = logs_p - logs_q - 0.5 + 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * z_mask) / torch.sum(z_mask)


def mel_loss(target_mel: torch.Tensor, generated_mel: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of two log-mel spectrograms (before the c_mel weight)."""
    return F.l1_loss(generated_mel.float(), target_mel.float())
