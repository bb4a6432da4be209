"""manifest.json of a pack: what the Node engine reads to find the graphs and their tensor names."""
from __future__ import annotations

import json
import os

from .roles import Role

NORMALIZE = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
TOKENIZER = {"file": "tokenizer.json", "contextLength": 32}
THRESHOLDS = {"detection": 0.5, "mask": 0.5, "minRegionArea": 16}


def manifest(name: str, description: str, image_size: int, roles: list[Role], extra_roles: dict | None = None,
             data_files: dict | None = None) -> dict:
    """extra_roles: entries that are not graphs (e.g. trackerConstants), added after the graphs' roles; data_files: per
    role, the external weight files of its graph (paths in the pack), listed where there are any."""
    out = {
        "name": name,
        "description": description,
        "imageSize": image_size,
        "normalize": NORMALIZE,
        "tokenizer": TOKENIZER,
        "thresholds": THRESHOLDS,
        "roles": {r.name: {"file": r.file, **({"data": data_files[r.name]} if (data_files or {}).get(r.name) else {}),
                           "inputs": dict(r.manifest_inputs), "outputs": dict(r.manifest_outputs)}
                  for r in roles},
    }
    out["roles"].update(extra_roles or {})
    return out


def write_manifest(pack_dir: str, data: dict) -> str:
    path = os.path.join(pack_dir, "manifest.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    return path
