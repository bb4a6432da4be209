import os

import pytest

from sam3_export import configs

BUNDLED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REPO = os.path.abspath(os.path.join(BUNDLED, ".."))
PRESET_KEYS = ["tiny-336", "tiny-1008"]


@pytest.fixture(scope="session")
def rebuilt(tmp_path_factory):
    """Each tiny pack rebuilt once per test session: {preset key: (pack folder, export report)}."""
    from sam3_export.export import export_tiny_pack
    cache = {}

    def get(key):
        if key not in cache:
            out = str(tmp_path_factory.mktemp(configs.PRESETS[key].name))
            cache[key] = (out, export_tiny_pack(key, out, progress=lambda s: None))
        return cache[key]
    return get


@pytest.fixture(scope="session")
def video_export(tmp_path_factory):
    """The video graphs of each tiny pack exported once per test session:
    {preset key: (pack folder, the graphs with their example inputs, the HF video model)}."""
    from sam3_export.export import export_graphs, video_pack_graphs
    cache = {}

    def get(key):
        if key not in cache:
            out = str(tmp_path_factory.mktemp("video-" + key))
            graphs, models = video_pack_graphs(configs.PRESETS[key])
            export_graphs(graphs, out, check=False, progress=lambda s: None)
            cache[key] = (out, graphs, models["video"])
        return cache[key]
    return get
