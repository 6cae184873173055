from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

from reid_cluster import compute_and_broadcast

WORKER = textwrap.dedent("""
    import os, sys
    import numpy as np
    import torch.distributed as dist
    from reid_cluster import DBSCANClusterer, clustered_features, compute_and_broadcast
    from reid_cluster import distributed_cluster

    rank, out = int(os.environ["RANK"]), sys.argv[1]
    dist.init_process_group("gloo", rank=rank, world_size=2)
    feats = clustered_features(300, 64, seed=1)[0] if rank == 0 else None
    calls = []
    clusterer = DBSCANClusterer(eps=0.6)
    orig = clusterer.cluster
    def spy(*a, **kw):
        calls.append(1)
        return orig(*a, **kw)
    clusterer.cluster = spy
    res = distributed_cluster(clusterer, feats)
    val = compute_and_broadcast(lambda: rank * 10 + 7)
    np.save(f"{out}/labels{rank}.npy", res.labels)
    np.save(f"{out}/meta{rank}.npy", np.array([len(calls), res.num_clusters, val]))
    dist.destroy_process_group()
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cluster_once_and_broadcast(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               WORLD_SIZE="2", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                              env=dict(env, RANK=str(r)), stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    l0, l1 = np.load(tmp_path / "labels0.npy"), np.load(tmp_path / "labels1.npy")
    m0, m1 = np.load(tmp_path / "meta0.npy"), np.load(tmp_path / "meta1.npy")
    assert np.array_equal(l0, l1) and len(l0) == 300
    assert m0[0] == 1 and m1[0] == 0  # only rank 0 clustered
    assert m0[1] == m1[1] > 1
    assert m0[2] == m1[2] == 7  # rank 0's value everywhere


def test_without_process_group_just_calls():
    assert compute_and_broadcast(lambda a, b: a + b, 2, b=3) == 5
