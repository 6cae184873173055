"""Contrastive losses: MoCo InfoNCE with a persistent queue (MMT+, METHODS §2.2-2.3) and the
camera-aware proxy contrastive loss of PPLR-cam (§6.4)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _gather(x: Tensor) -> Tensor:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, 0)


class MoCoLoss(nn.Module):
    """InfoNCE against a FIFO queue of keys: ``logits = [q.k, q.queue] / tau``, CE with the
    positive at index 0, then the keys are enqueued.

    The queue (``dim x queue_size``, random unit columns at start) and its pointer are buffers,
    so they are saved in ``state_dict`` and persist across epochs and resumes. With
    ``gather_keys=True`` the keys of all ranks are enqueued (when torch.distributed is
    initialised), as a single process sees the whole batch in the official DataParallel run.
    Defaults: ``tau = 0.07``, ``K = 12800`` (64 x 200 x 1).
    """

    name = "moco"

    queue: Tensor
    queue_ptr: Tensor

    def __init__(self, dim: int, queue_size: int = 12800, temperature: float = 0.07,
                 gather_keys: bool = True) -> None:
        super().__init__()
        self.dim, self.queue_size = int(dim), int(queue_size)
        self.temperature = float(temperature)
        self.gather_keys = gather_keys
        self.register_buffer("queue", F.normalize(torch.randn(self.dim, self.queue_size), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, q: Tensor, k: Tensor, enqueue: bool = True) -> Tensor:
        q = F.normalize(q, dim=1)
        k = F.normalize(k.detach(), dim=1)
        l_pos = (q * k).sum(1, keepdim=True)
        l_neg = q @ self.queue.clone().detach().to(q.dtype)
        logits = torch.cat((l_pos, l_neg), 1) / self.temperature
        loss = F.cross_entropy(logits, torch.zeros(q.size(0), dtype=torch.long, device=q.device))
        if enqueue:
            self.enqueue(k)
        return loss

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` (normalised) at the pointer, wrapping around; advance the pointer."""
        keys = F.normalize(_gather(keys.detach()) if self.gather_keys else keys.detach(), dim=1)
        n = keys.size(0)
        ptr = int(self.queue_ptr[0])
        idx = (ptr + torch.arange(n, device=self.queue.device)) % self.queue_size
        self.queue[:, idx] = keys.t().to(self.queue.dtype)
        self.queue_ptr[0] = (ptr + n) % self.queue_size

    def extra_repr(self) -> str:
        return f"dim={self.dim}, queue_size={self.queue_size}, temperature={self.temperature}"


class CameraProxyContrastiveLoss(nn.Module):
    """PPLR-cam's inter-camera contrastive loss against camera-aware proxies (METHODS §6.4).

    For sample ``i`` (feature L2-normalised, similarities ``s = f.proxy / tau``): positives are
    the proxies of its cluster from *other* cameras, negatives the ``num_hard_negatives`` most
    similar proxies of other clusters;
    ``L_i = -sum_pos (1/|pos|) log softmax_{pos u hardneg}(s)_pos``. Samples without a positive
    contribute 0, and the sum is divided by the batch size.

    ``forward(features, labels, cams, proxies, proxy_labels, proxy_cams)``; the proxies are the
    (static, per-epoch) L2-normalised means per (cluster, camera), built by the method.
    """

    name = "camera_proxy_contrastive"

    def __init__(self, temperature: float = 0.07, num_hard_negatives: int = 50) -> None:
        super().__init__()
        self.temperature = float(temperature)
        self.num_hard_negatives = int(num_hard_negatives)

    def forward(self, features: Tensor, labels: Tensor, cams: Tensor, proxies: Tensor,
                proxy_labels: Tensor, proxy_cams: Tensor) -> Tensor:
        f = F.normalize(features, dim=1)
        sims = f @ proxies.detach().to(f.dtype).t() / self.temperature  # [B, M]
        same_cluster = labels.view(-1, 1).eq(proxy_labels.view(1, -1))
        pos = same_cluster & cams.view(-1, 1).ne(proxy_cams.view(1, -1))
        neg = ~same_cluster
        k = min(self.num_hard_negatives, int(neg.sum(1).max().item()) if neg.numel() else 0)
        neg_sims = sims.masked_fill(~neg, float("-inf"))
        hard_vals, _ = neg_sims.topk(k, dim=1) if k > 0 else (sims[:, :0], None)
        n_pos = pos.sum(1)
        # rows without a positive are dropped below; keep their log-sum-exp finite (no NaN grad)
        pos_sims = sims.masked_fill(~pos & (n_pos > 0).view(-1, 1), float("-inf"))
        lse = torch.logsumexp(torch.cat((pos_sims, hard_vals), 1), dim=1, keepdim=True)
        log_prob = (sims - lse).masked_fill(~pos, 0.0)
        per_sample = -(log_prob.sum(1) / n_pos.clamp(min=1))
        per_sample = torch.where(n_pos > 0, per_sample, torch.zeros_like(per_sample))
        return per_sample.sum() / features.size(0)
