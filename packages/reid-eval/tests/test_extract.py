from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from reid_eval import extract_features


class Imgs(Dataset):
    def __init__(self, n=13, as_dict=True):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, 4, 2, generator=g)
        self.as_dict = as_dict

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"img": self.x[i], "index": i} if self.as_dict else (self.x[i], f"{i}.jpg", 0, 0)


class Net(torch.nn.Module):
    """A linear 'feature extractor' with a BN whose train/eval outputs differ (like DSBN)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(24, 5)
        self.bn = torch.nn.BatchNorm1d(5)
        self.bn.running_mean.fill_(0.5)

    def forward(self, x):
        return self.bn(self.lin(x.flatten(1)))


def _expected(net, x, flip=False):
    net.eval()
    with torch.no_grad():
        f = net(x)
        if flip:
            f = (f + net(torch.flip(x, dims=[3]))) / 2
    return f


@pytest.mark.parametrize("as_dict", [True, False])
@pytest.mark.parametrize("flip", [False, True])
def test_extract_batches_flip_eval_mode(as_dict, flip):
    ds, net = Imgs(as_dict=as_dict), Net()
    net.train()
    out = extract_features(net, DataLoader(ds, batch_size=4), flip=flip)
    assert net.training  # the mode is restored
    torch.testing.assert_close(out, _expected(net, ds.x, flip))
    assert out.dtype == torch.float32 and out.shape == (13, 5)


def test_extract_normalize_and_output_forms():
    ds = Imgs()

    class DictOut(Net):
        def forward(self, x):
            return {"features": super().forward(x), "logits": None}

    out = extract_features(DictOut(), DataLoader(ds, batch_size=5), normalize=True)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(13))
    with pytest.raises(KeyError, match="'img'"):
        extract_features(Net(), [{"image": ds.x[:2]}])


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, use_index, out_path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        ds = Imgs(as_dict=use_index)
        sampler = DistributedSampler(ds, num_replicas=world, rank=rank, shuffle=False)  # pads 13 -> 14
        loader = DataLoader(ds, batch_size=3, sampler=sampler)
        feats = extract_features(Net(), loader, flip=True)
        if rank == 0:
            torch.save(feats, out_path)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize("use_index", [True, False])  # batch 'index' entries / sampler order
def test_distributed_gather_in_dataset_order(tmp_path, use_index):
    out_path = tmp_path / "feats.pt"
    mp.spawn(_worker, args=(2, _free_port(), use_index, str(out_path)), nprocs=2, join=True)
    feats = torch.load(out_path)
    torch.testing.assert_close(feats, _expected(Net(), Imgs().x, flip=True))
