from pathlib import Path

from reid_plugin.testing import assert_plugin_discoverable


def test_discovery(tmp_path: Path) -> None:
    pm = assert_plugin_discoverable("myplugin")
    from reid_data import create_dataset, dataset_registry

    assert "mydataset" in dataset_registry(pm)
    for split, names in {"train": ["0007_c1_a", "0007_c2_b", "0009_c1_a"],
                         "query": ["0003_c1_a"], "gallery": ["0003_c2_a"]}.items():
        (tmp_path / "MyData" / split).mkdir(parents=True)
        for n in names:
            (tmp_path / "MyData" / split / f"{n}.jpg").write_bytes(b"")
    ds = create_dataset("mydataset", tmp_path, pm=pm)
    assert [s.pid for s in ds.train] == [0, 0, 1] and ds.query[0].camid == 0
