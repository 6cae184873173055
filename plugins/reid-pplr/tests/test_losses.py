"""PGLR, AALS and the inter-camera proxy loss against hand-computed small cases."""

from __future__ import annotations

import math

import pytest
import torch
from reid_pplr.losses import AALSLoss, PGLRLoss, refined_targets
from torch.nn import functional as F

LN3 = math.log(3.0)


def test_refined_targets_equal_scores() -> None:
    # part 0 predicts [0.25, 0.75], part 1 [0.5, 0.5]; equal scores -> weights 1/2 each
    zp = torch.tensor([[[0.0, 0.0], [LN3, 0.0]]])  # [B=1, C=2, P=2]
    q = refined_targets(zp, torch.tensor([0]), torch.tensor([[0.3, 0.3]]), beta=0.5)
    # ensemble [0.375, 0.625]; 0.5 * onehot(0) + 0.5 * ensemble
    assert torch.allclose(q, torch.tensor([[0.6875, 0.3125]]))


def test_refined_targets_weights_are_softmax_of_raw_scores() -> None:
    zp = torch.tensor([[[0.0, 0.0], [LN3, 0.0]]])
    q = refined_targets(zp, torch.tensor([1]), torch.tensor([[1.0, 0.0]]), beta=0.25)
    w0 = math.e / (math.e + 1.0)  # softmax([1, 0]) without temperature
    w1 = 1.0 - w0
    ens = [0.25 * w0 + 0.5 * w1, 0.75 * w0 + 0.5 * w1]
    expect = torch.tensor([[0.75 * ens[0], 0.25 + 0.75 * ens[1]]])
    assert torch.allclose(q, expect, atol=1e-6)
    assert torch.allclose(q.sum(1), torch.ones(1))


def test_pglr_loss_value_and_detached_parts() -> None:
    zg = torch.tensor([[LN3, 0.0]], requires_grad=True)  # p_g = [0.75, 0.25]
    zp = torch.tensor([[[0.0, 0.0], [LN3, 0.0]]], requires_grad=True)
    loss = PGLRLoss(beta=0.5)(zg, zp, torch.tensor([0]), torch.tensor([[0.3, 0.3]]))
    expect = -(0.6875 * math.log(0.75) + 0.3125 * math.log(0.25))
    assert loss.item() == pytest.approx(expect, rel=1e-6)
    loss.backward()
    assert zp.grad is None or torch.count_nonzero(zp.grad) == 0  # part ensemble detached
    # gradient of soft-target CE w.r.t. logits: softmax - q
    assert torch.allclose(zg.grad, torch.tensor([[0.75 - 0.6875, 0.25 - 0.3125]]))


def test_pglr_beta_one_is_plain_cross_entropy() -> None:
    torch.manual_seed(0)
    zg, zp = torch.randn(4, 5), torch.randn(4, 5, 3)
    y, ca = torch.tensor([0, 1, 4, 2]), torch.rand(4, 3)
    assert torch.allclose(PGLRLoss(beta=1.0)(zg, zp, y, ca), F.cross_entropy(zg, y))


def test_aals_hand_computed() -> None:
    z = torch.tensor([[LN3, 0.0], [0.0, 0.0]])  # p = [0.75, 0.25] and [0.5, 0.5]
    y = torch.tensor([0, 1])
    c = torch.tensor([0.25, 0.6])
    # row 0: ce = -ln 0.75, KL(u||p) = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25) = 0.5 ln(4/3)
    row0 = 0.25 * -math.log(0.75) + 0.75 * 0.5 * math.log(4.0 / 3.0)
    # row 1: ce = ln 2, KL(u||u) = 0
    row1 = 0.6 * math.log(2.0)
    assert AALSLoss()(z, y, c).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_aals_limits_match_ce_and_official_kl() -> None:
    torch.manual_seed(1)
    z, y = torch.randn(6, 7), torch.randint(0, 7, (6,))
    assert torch.allclose(AALSLoss()(z, y, torch.ones(6)), F.cross_entropy(z, y))
    logp = F.log_softmax(z, 1)
    uni = torch.full_like(logp, 1 / 7)
    kl = F.kl_div(logp, uni, reduction="none").sum(1).mean()  # the official formulation
    assert torch.allclose(AALSLoss()(z, y, torch.zeros(6)), kl, atol=1e-6)


def _official_intercam(f, y, cams, proxy, plab, pcam, tau=0.07, hards=50):
    """The per-sample loop of METHODS §6.4 (reference for the vectorised core loss)."""
    f = F.normalize(f, dim=1)
    sims = f @ proxy.t() / tau
    loss = torch.zeros(())
    for i in range(len(f)):
        pos = torch.nonzero((plab == y[i]) & (pcam != cams[i])).squeeze(-1)
        if len(pos) == 0:
            continue
        neg = (plab != y[i]).float()
        hard = torch.sort(sims[i] + -9999999.0 * (1 - neg), descending=True).indices[:hards]
        s = sims[i, torch.cat([pos, hard])]
        t = torch.zeros(len(s))
        t[: len(pos)] = 1.0 / len(pos)
        loss = loss - (t * F.log_softmax(s, 0)).sum()
    return loss / len(f)


def test_camera_proxy_loss_hand_computed() -> None:
    from reid_models import create_loss

    loss = create_loss("camera_proxy_contrastive", temperature=0.5, num_hard_negatives=50)
    proxies = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    plab, pcam = torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0])
    f = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # normalised inside
    y, cams = torch.tensor([0, 1]), torch.tensor([0, 0])
    # sample 0: positive proxy 1 (cluster 0, other camera, sim 0), hard negative proxy 2
    # (sim -1); its own-camera proxy 0 is neither. Sample 1 has no positive: contributes 0,
    # but the sum is still divided by B = 2.
    expect = math.log(1.0 + math.exp(-1.0 / 0.5)) / 2
    assert loss(f, y, cams, proxies, plab, pcam).item() == pytest.approx(expect, rel=1e-6)


def test_camera_proxy_loss_matches_the_official_loop() -> None:
    from reid_models import create_loss

    g = torch.Generator().manual_seed(3)
    proxies = F.normalize(torch.randn(120, 16, generator=g), dim=1)
    plab = torch.arange(120) // 3  # 40 clusters x 3 cameras: > 50 negatives for everyone
    pcam = torch.arange(120) % 3
    f = torch.randn(10, 16, generator=g)
    y, cams = torch.randint(0, 40, (10,), generator=g), torch.randint(0, 3, (10,), generator=g)
    got = create_loss("camera_proxy_contrastive")(f, y, cams, proxies, plab, pcam)
    assert torch.allclose(got, _official_intercam(f, y, cams, proxies, plab, pcam), atol=1e-5)
