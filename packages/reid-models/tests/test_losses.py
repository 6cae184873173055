"""Every loss against a small hand-computed case."""

from __future__ import annotations

import math

import pytest
import torch

import reid_models as rm
from reid_models.losses import permutation_matrix, sinkhorn

# 1-D points 0, 1, 3, 7 with labels 0, 0, 1, 1:
# d(0,1)=1 d(0,3)=3 d(0,7)=7 d(1,3)=2 d(1,7)=6 d(3,7)=4
F1 = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
Y1 = torch.tensor([0, 0, 1, 1])
# hardest positive / negative per anchor
D_AP = [1.0, 1.0, 4.0, 4.0]
D_AN = [3.0, 2.0, 2.0, 6.0]


def close(a: torch.Tensor, b: float, tol: float = 1e-5) -> None:
    v = float(a.detach())
    assert abs(v - b) < tol, (v, b)


def test_cross_entropy_label_smooth() -> None:
    ce = rm.create_loss("cross_entropy")
    z = torch.tensor([[0.0, math.log(3.0)]])  # softmax = [0.25, 0.75]
    expected = -(0.05 * math.log(0.25) + 0.95 * math.log(0.75))  # q = [eps/2, 1-eps+eps/2]
    close(ce(z, torch.tensor([1])), expected)
    # over the active classes only: the extra column is sliced away
    z3 = torch.tensor([[0.0, math.log(3.0), 50.0]])
    close(ce(z3, torch.tensor([1]), num_classes=2), expected)
    close(rm.create_loss("cross_entropy", epsilon=0.0)(z, torch.tensor([1])), -math.log(0.75))


def test_soft_cross_entropy() -> None:
    student = torch.zeros(1, 2, requires_grad=True)
    teacher = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)
    loss = rm.create_loss("soft_cross_entropy")(student, teacher)
    close(loss, math.log(2.0))
    loss.backward()
    assert teacher.grad is None and student.grad is not None


def test_soft_triplet_margin_zero_is_soft_margin() -> None:
    loss = rm.create_loss("soft_triplet")(F1, Y1)
    expected = sum(math.log1p(math.exp(a - n)) for a, n in zip(D_AP, D_AN)) / 4
    close(loss, expected)


def test_soft_triplet_with_margin() -> None:
    m = 0.3
    loss = rm.create_loss("soft_triplet", margin=m)(F1, Y1)
    expected = 0.0
    for a, n in zip(D_AP, D_AN):
        lp_a = a - math.log(math.exp(a) + math.exp(n))
        lp_n = n - math.log(math.exp(a) + math.exp(n))
        expected += -m * lp_a - (1 - m) * lp_n
    close(loss, expected / 4)


def test_soft_triplet_teacher() -> None:
    teacher = torch.tensor([[0.0], [2.0], [2.5], [3.0]])  # distances at the student's pairs:
    t_ap = [2.0, 2.0, 0.5, 0.5]   # (0,1) (1,0) (3,7)->(2.5,3) (7,3)
    t_an = [2.5, 0.5, 0.5, 1.0]   # (0,3) (1,3) (3,1) (7,1)
    loss = rm.create_loss("soft_triplet_teacher")(F1.clone().requires_grad_(), teacher, Y1)
    expected = 0.0
    for a, n, ta, tn in zip(D_AP, D_AN, t_ap, t_an):
        z = math.exp(ta) + math.exp(tn)
        wa, wn = math.exp(ta) / z, math.exp(tn) / z
        lse = math.log(math.exp(a) + math.exp(n))
        expected += -(wa * (a - lse) + wn * (n - lse))
    close(loss, expected / 4)


def test_hard_triplet_with_margin() -> None:
    loss = rm.create_loss("triplet", margin=0.3)(F1, Y1)
    close(loss, sum(max(0.0, a - n + 0.3) for a, n in zip(D_AP, D_AN)) / 4)  # = 2.3 / 4


def test_weighted_regularized_triplet() -> None:
    pts = [0.0, 1.0, 3.0, 7.0]
    expected = 0.0
    for i, p in enumerate(pts):
        pos = [abs(p - q) for j, q in enumerate(pts) if Y1[j] == Y1[i]]
        neg = [abs(p - q) for j, q in enumerate(pts) if Y1[j] != Y1[i]]
        fp = sum(d * math.exp(d) for d in pos) / sum(math.exp(d) for d in pos)
        cn = sum(d * math.exp(-d) for d in neg) / sum(math.exp(-d) for d in neg)
        expected += math.log1p(math.exp(fp - cn))
    close(rm.create_loss("weighted_triplet")(F1, Y1), expected / 4, tol=1e-4)


def test_moco_queue_loss_and_persistence() -> None:
    moco = rm.create_loss("moco", dim=2, queue_size=3, temperature=1.0)
    moco.queue.copy_(torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, -1.0]]))
    q = torch.tensor([[2.0, 0.0]], requires_grad=True)  # normalised inside
    k = torch.tensor([[1.0, 0.0]])
    loss = moco(q, k)
    e = math.e
    close(loss, -math.log(e / (e + 1 + 1 / e + 1)))
    loss.backward()
    assert q.grad is not None
    torch.testing.assert_close(moco.queue[:, 0], torch.tensor([1.0, 0.0]))
    assert int(moco.queue_ptr) == 1
    # FIFO with wrap-around: 3 keys at pointer 1 fill columns 1, 2, 0
    keys = torch.tensor([[0.0, 1.0], [0.0, -1.0], [-1.0, 0.0]])
    moco.enqueue(keys)
    torch.testing.assert_close(moco.queue.t(), torch.tensor([[-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]))
    assert int(moco.queue_ptr) == 1
    state = moco.state_dict()
    assert set(state) == {"queue", "queue_ptr"}
    other = rm.create_loss("moco", dim=2, queue_size=3)
    other.load_state_dict(state)
    torch.testing.assert_close(other.queue, moco.queue)


def test_moco_default_queue_is_unit_columns() -> None:
    moco = rm.create_loss("moco", dim=8)
    assert moco.queue.shape == (8, 12800) and moco.temperature == 0.07
    torch.testing.assert_close(moco.queue.norm(dim=0), torch.ones(12800))


def test_camera_proxy_contrastive() -> None:
    proxies = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    p_labels = torch.tensor([0, 0, 1, 1])
    p_cams = torch.tensor([0, 1, 0, 1])
    feats = torch.tensor([[3.0, 0.0], [0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 1, 2])  # cluster 2 has no proxy: no positive, contributes 0
    cams = torch.tensor([0, 1, 0])
    loss_fn = rm.create_loss("camera_proxy_contrastive", temperature=1.0, num_hard_negatives=1)
    loss = loss_fn(feats, labels, cams, proxies, p_labels, p_cams)
    # sample 0: positive P1 (sim 0), hardest negative P3 (sim 0)      -> log 2
    # sample 1: positive P2 (sim 0), hardest negative P1 (sim 1)      -> log(1 + e)
    close(loss, (math.log(2.0) + math.log(1 + math.e)) / 3)
    loss.backward()
    assert torch.isfinite(feats.grad).all()


def test_camera_proxy_several_positives_average() -> None:
    proxies = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [-1.0, 0.0]])
    p_labels = torch.tensor([0, 0, 0, 1])
    p_cams = torch.tensor([0, 1, 2, 0])
    loss = rm.create_loss("camera_proxy_contrastive", temperature=1.0, num_hard_negatives=50)(
        torch.tensor([[1.0, 0.0]]), torch.tensor([0]), torch.tensor([0]), proxies, p_labels,
        p_cams)
    lse = math.log(math.exp(0) + math.exp(0) + math.exp(-1))  # P1, P2 positive; P3 negative
    close(loss, -0.5 * ((0 - lse) + (0 - lse)))


def test_sinkhorn_hand_case() -> None:
    logits = torch.tensor([[[0.0, math.log(2.0)], [math.log(3.0), 0.0]]])
    one = sinkhorn(logits, iterations=1)[0]
    torch.testing.assert_close(one, torch.tensor([[4 / 13, 8 / 11], [9 / 13, 3 / 11]]))
    many = sinkhorn(torch.randn(3, 6, 6), iterations=20)
    torch.testing.assert_close(many.sum(-2), torch.ones(3, 6))  # columns exactly
    torch.testing.assert_close(many.sum(-1), torch.ones(3, 6), atol=1e-3, rtol=0)


def test_permutation_loss() -> None:
    torch.testing.assert_close(permutation_matrix(torch.tensor([[1, 0]])),
                               torch.tensor([[[0.0, 1.0], [1.0, 0.0]]]))
    loss = rm.create_loss("permutation")
    close(loss(torch.zeros(1, 4), torch.tensor([[0, 1]])), 0.25)  # P_hat = 0.5 everywhere
    perm = torch.tensor([[2, 0, 1]])
    confident = 20.0 * permutation_matrix(perm).view(1, 9)
    assert float(loss(confident, perm)) < 1e-6
    assert float(loss.accuracy(confident, perm)) == 1.0
    with pytest.raises(ValueError, match="N\\*N"):
        loss(torch.zeros(1, 5), perm)
