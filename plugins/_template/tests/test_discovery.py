from reid_plugin.testing import assert_plugin_discoverable


def test_discovery():
    pm = assert_plugin_discoverable("myplugin")
    from reid_data import dataset_registry

    assert "mydataset" in dataset_registry(pm)
