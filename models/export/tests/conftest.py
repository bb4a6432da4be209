import os

import pytest

from sam3_export import configs

BUNDLED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REPO = os.path.abspath(os.path.join(BUNDLED, ".."))
PRESET_KEYS = ["tiny-336", "tiny-1008"]


@pytest.fixture(scope="session")
def pack(tmp_path_factory):
    """Each tiny pack exported once per test session, with its HF weights:
    {preset key: (pack folder, export report, {role: the graph with its example inputs}, the HF video model)}."""
    from sam3_export.export import export_pack, pack_graphs
    cache = {}

    def get(key):
        if key not in cache:
            preset = configs.PRESETS[key]
            out = str(tmp_path_factory.mktemp(preset.name))
            video = configs.build_video(preset)
            report = export_pack(video, out, name=preset.name, description=preset.description,
                                 tokenizer_dir=os.path.join(BUNDLED, preset.name), hf_weights=True,
                                 progress=lambda s: None)
            cache[key] = (out, report, {g.role.name: g for g in pack_graphs(video)}, video)
        return cache[key]
    return get
