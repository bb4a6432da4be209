"""The peers `npm run bench:full` sets beside this project: the pack's graph sequences timed per stage in PyTorch
(eager, float32, CPU) and in onnxruntime for Python, and fp16 / int8 packs against the fp32 pack.

PyTorch runs the exporter's wrappers (wrappers.py) eagerly on the pack's Hugging Face model: they call HF's own
modules, so this is HF transformers' code path, on the same weights as the graphs. Scenarios, one image per run
(the backbone runs once per run and counts in each scenario, as each would pay for it alone):
  text   backbone + textEncoder + detectorDecoder
  click  backbone + trackerDecoder
  videoK a tracked video frame with K objects: backbone, then per object memoryAttention over a fixed memory bank
         (1 conditioning + 6 recent memory frames, 16 object pointers) + videoTrackerDecoder, then one
         memoryEncoder call for the K objects.
Only graph time is counted; the glue between graphs (mask upsampling, building the bank) is not.

  python -m sam3_export.peers --pack DIR --runtime ort|torch [--from SPEC --seed N] [--threads N] [--runs N]
  python -m sam3_export.peers --pack DIR --variants DIR16,DIR8 [--threads N] [--runs N]
prints one JSON object on stdout (progress on stderr).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

from . import inputs
from .roles import ROLES, FPN_FEATS, FPN_POS, EMBEDDINGS

MEMORY_FRAMES = 7  # 1 conditioning frame + 6 recent ones: HF's num_maskmem slots
MEMORY_OFFSETS = [0, 6, 5, 4, 3, 2, 1]  # HF's order: conditioning first, then the others from the oldest
POINTER_OFFSETS = [10] + list(range(1, 16))  # the conditioning frame's pointer, then the 15 nearest frames'
VIDEO_OBJECTS = (1, 4)
SCENARIOS = ["text", "click"] + [f"video{k}" for k in VIDEO_OBJECTS]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def median(xs: list[float]) -> float:
    """The median as bench/run.ts takes it (the upper one of an even count), so every runtime is read alike."""
    return sorted(xs)[len(xs) // 2]


class OrtRunner:
    """The pack's graphs in onnxruntime for Python, fed and read by ONNX tensor names (float32 in and out)."""

    name = "onnxruntime-python"

    def __init__(self, pack_dir: str, threads: int):
        import onnxruntime as ort
        self.files = {r: os.path.join(pack_dir, e["file"]) for r, e in read_manifest(pack_dir)["roles"].items()}
        self.ort, self.threads, self.sessions = ort, threads, {}

    def load(self, role: str):
        if role not in self.sessions:
            so = self.ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.log_severity_level = 3
            self.sessions[role] = self.ort.InferenceSession(self.files[role], so, providers=["CPUExecutionProvider"])
        return self.sessions[role]

    def run(self, role: str, feeds: dict) -> dict:
        sess = self.load(role)
        half = {i.name for i in sess.get_inputs() if i.type == "tensor(float16)"}
        named = {i.name: np.asarray(feeds[i.name], dtype=np.float16 if i.name in half else None)
                 for i in sess.get_inputs()}
        out = sess.run(ROLES[role].outputs, named)
        return {n: a.astype(np.float32) if a.dtype == np.float16 else a for n, a in zip(ROLES[role].outputs, out)}


class TorchRunner:
    """The exporter's wrappers run eagerly (HF's modules) on the video model, float32 on CPU."""

    name = "pytorch-eager"

    def __init__(self, video, threads: int):
        from . import wrappers
        torch.set_num_threads(threads)
        self.modules = {
            "backbone": wrappers.Backbone(video),
            "textEncoder": wrappers.TextEncoder(video.detector_model),
            "detectorDecoder": wrappers.DetectorDecoder(video.detector_model, False),
            "trackerDecoder": wrappers.TrackerDecoder(video, False),
            "videoTrackerDecoder": wrappers.VideoTrackerDecoder(video, False),
            "memoryEncoder": wrappers.MemoryEncoder(video),
            "memoryAttention": wrappers.MemoryAttention(video),
        }

    def load(self, role: str):
        return self.modules[role]

    def run(self, role: str, feeds: dict) -> dict:
        args = [torch.as_tensor(np.asarray(feeds[n])) for n in ROLES[role].inputs]
        with torch.inference_mode():
            out = self.modules[role](*args)
        out = out if isinstance(out, tuple) else (out,)
        return {n: t.numpy() for n, t in zip(ROLES[role].outputs, out)}


class Clock:
    """Milliseconds per stage of one run (a stage run several times in a run adds up)."""

    def __init__(self, runner):
        self.runner, self.ms = runner, {}

    def __call__(self, role: str, feeds: dict, key: str | None = None) -> dict:
        t = time.perf_counter()
        out = self.runner.run(role, feeds)
        key = key or role
        self.ms[key] = self.ms.get(key, 0.0) + (time.perf_counter() - t) * 1000
        return out


def load_pixels(image: str | None, size: int) -> np.ndarray:
    """The image (default: the exporter's scene) resized to size x size, bilinear, scaled to -1..1."""
    from PIL import Image
    return inputs.pixel_values(size, None if image is None else Image.open(image).convert("RGB")).numpy()


def upsample(low: np.ndarray, size: int) -> np.ndarray:
    """Low-res mask logits [B,1,h,w] -> [B,1,S,S] (bilinear), the memory encoder's input (glue, not timed)."""
    t = torch.nn.functional.interpolate(torch.from_numpy(low), size=(size, size), mode="bilinear", align_corners=False)
    return t.numpy()


class Frame:
    """The fixed prompts and the memory bank the scenarios read, built once per runtime from its own outputs."""

    def __init__(self, pixels: np.ndarray, size: int, point: tuple[float, float]):
        self.pixels, self.size = pixels, size
        ids, mask = inputs.text_prompt()
        self.text = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        self.click = {"input_points": np.array([[[point]]], dtype=np.float32),
                      "input_labels": np.array([[[1]]], dtype=np.int64)}
        # a tracked frame has no prompt: HF feeds one padding point (label -1)
        self.tracked = {"input_points": np.zeros((1, 1, 1, 2), np.float32),
                        "input_labels": np.full((1, 1, 1), -1, np.int64)}

    def build_bank(self, run, b: dict) -> None:
        """Memory of the clicked object: its memory frame repeated over the 7 slots, its pointer over 16."""
        emb = {n: b[n] for n in EMBEDDINGS}
        d = run("videoTrackerDecoder", {**emb, **self.click})
        self.low = d["pred_masks"][:, :, 0]  # [1, 1, 4g, 4g]
        m = run("memoryEncoder", {"tracker_feat_2": b["tracker_feat_2"], "high_res_masks": upsample(self.low, self.size),
                                  "object_score_logits": d["object_score_logits"],
                                  "mask_from_prompt": np.array([True])})
        rep = lambda a, n: np.ascontiguousarray(np.repeat(a[:1], n, axis=0))
        self.bank = {"memory_features": rep(m["maskmem_features"], MEMORY_FRAMES),
                     "memory_pos_enc": rep(m["maskmem_pos_enc"], MEMORY_FRAMES),
                     "memory_offsets": np.array(MEMORY_OFFSETS, np.int64),
                     "object_pointers": rep(d["object_pointers"][0, 0, :1], len(POINTER_OFFSETS)),
                     "object_pointer_offsets": np.array(POINTER_OFFSETS, np.int64),
                     "object_pointer_max_offset": np.array([15.0], np.float32)}


def one_run(run, frame: Frame) -> tuple[dict, dict]:
    """Every stage once (the video stages for each object count); returns the outputs kept for agreement."""
    b = run("backbone", {"pixel_values": frame.pixels})
    t = run("textEncoder", frame.text)
    det = run("detectorDecoder", {**{n: b[n] for n in FPN_FEATS + FPN_POS}, "text_features": t["text_features"],
                                  "text_mask": frame.text["attention_mask"]})
    emb = {n: b[n] for n in EMBEDDINGS}
    trk = run("trackerDecoder", {**emb, **frame.click})
    kept = {"backbone": b, "text": t["text_features"], "detector": det, "tracker": trk}
    for k in VIDEO_OBJECTS:
        lows, scores = [], []
        for _ in range(k):
            e2 = run("memoryAttention", {"tracker_feat_2": b["tracker_feat_2"], "tracker_pos_2": b["tracker_pos_2"],
                                         **frame.bank}, f"memoryAttention x{k}")
            d = run("videoTrackerDecoder", {**emb, "image_embeddings_2": e2["image_embeddings_2"], **frame.tracked},
                    f"videoTrackerDecoder x{k}")
            lows.append(d["pred_masks"][:, :, 0])
            scores.append(d["object_score_logits"])
        high = upsample(np.concatenate(lows), frame.size)
        run("memoryEncoder", {"tracker_feat_2": b["tracker_feat_2"], "high_res_masks": high,
                              "object_score_logits": np.concatenate(scores), "mask_from_prompt": np.array([False])},
            f"memoryEncoder x{k}")
        kept[f"video{k}"] = d
    return kept


def scenario_ms(ms: dict) -> dict:
    s = {"text": ms["backbone"] + ms["textEncoder"] + ms["detectorDecoder"],
         "click": ms["backbone"] + ms["trackerDecoder"]}
    for k in VIDEO_OBJECTS:
        s[f"video{k}"] = ms["backbone"] + ms[f"memoryAttention x{k}"] + ms[f"videoTrackerDecoder x{k}"] + \
            ms[f"memoryEncoder x{k}"]
    return s


def measure(runner, frame: Frame, runs: int) -> tuple[dict, dict]:
    """One untimed run (warm-up, which also builds the memory bank), then `runs` timed ones: medians in ms."""
    warm = Clock(runner)
    frame.build_bank(warm, warm("backbone", {"pixel_values": frame.pixels}))
    one_run(warm, frame)
    stages, totals, kept = [], [], None
    for i in range(runs):
        clock = Clock(runner)
        kept = one_run(clock, frame)
        stages.append(clock.ms)
        totals.append(scenario_ms(clock.ms))
        log(f"  {runner.name} run {i + 1}/{runs}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in totals[-1].items()))
    med = lambda rows: {k: round(median([r[k] for r in rows]), 1) for k in rows[0]}
    return {"stages": med(stages), "scenarios": med(totals)}, kept


def load_video(pack_dir: str, source: str | None, seed: int | None):
    """The pack's HF model: its hf/ checkpoint when the pack has one, else rebuilt from the source it came from."""
    from .sources import load_pack_model, load_source
    if os.path.exists(os.path.join(pack_dir, "hf", "model.safetensors")):
        return load_pack_model(pack_dir)
    if source is None:
        raise SystemExit("peers: the pack has no hf/model.safetensors: give --from SPEC (and --seed) it was made from")
    return load_source(source, seed=seed, progress=log).video


def read_manifest(pack_dir: str) -> dict:
    with open(os.path.join(pack_dir, "manifest.json")) as f:
        return json.load(f)


def make_frame(pack_dir: str, image: str | None) -> Frame:
    size = read_manifest(pack_dir)["imageSize"]
    pixels = load_pixels(image, size)
    return Frame(pixels, size, (size / 4, size / 3))  # the click of bench/run.ts: a quarter across, a third down


def time_runtime(a) -> dict:
    frame = make_frame(a.pack, a.image)
    t = time.perf_counter()
    if a.runtime == "torch":
        runner = TorchRunner(load_video(a.pack, a.source, a.seed), a.threads)
    else:
        runner = OrtRunner(a.pack, a.threads)
        for role in ["backbone", "textEncoder", "detectorDecoder", "trackerDecoder", "videoTrackerDecoder",
                     "memoryEncoder", "memoryAttention"]:
            runner.load(role)
    load_s = time.perf_counter() - t
    log(f"{runner.name}: loaded in {load_s:.1f}s, RSS peak {peak_rss_mb()} MB")
    result, _ = measure(runner, frame, a.runs)
    return {"runtime": runner.name, "threads": a.threads, "runs": a.runs, "imageSize": frame.size,
            "load_s": round(load_s, 1), **result, "peakRssMB": peak_rss_mb()}


def top_masks(kept: dict) -> dict:
    """Binary top masks: the detector's best-scoring query, the tracker's best-IoU candidate, each video frame's
    single-mask output."""
    det, trk = kept["detector"], kept["tracker"]
    out = {"detector": det["pred_masks"][0, int(np.argmax(det["pred_logits"][0]))] > 0,
           "tracker": trk["pred_masks"][0, 0, int(np.argmax(trk["iou_scores"][0, 0]))] > 0}
    for k in VIDEO_OBJECTS:
        out[f"video{k}"] = kept[f"video{k}"]["pred_masks"][0, 0, 0] > 0
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return round(float(np.logical_and(a, b).sum() / union), 4) if union else 1.0


def agreement(ref: dict, got: dict) -> dict:
    """Max abs difference of the features (the backbone's outputs, the text features) and IoU of the top masks."""
    diff = {n: float(np.max(np.abs(got["backbone"][n] - ref["backbone"][n]))) for n in ref["backbone"]}
    diff["text_features"] = float(np.max(np.abs(got["text"] - ref["text"])))
    mr, mg = top_masks(ref), top_masks(got)
    return {"maxAbsDiff": {k: float(f"{v:.3g}") for k, v in diff.items()},
            "topMaskIoU": {k: iou(mr[k], mg[k]) for k in mr}}


def pack_bytes(pack_dir: str) -> int:
    """Bytes of the graph files the manifest names (with their weights), each file once."""
    files = {os.path.realpath(os.path.join(pack_dir, f)) for e in read_manifest(pack_dir)["roles"].values()
             for f in [e["file"]] + e.get("data", [])}
    return sum(os.path.getsize(f) for f in files)


def measure_pack(pack_dir: str, image: str | None, threads: int, runs: int) -> tuple[dict, dict]:
    """One pack in onnxruntime-python: its timings, size and peak RSS, and its outputs (what agreement reads)."""
    result, kept = measure(OrtRunner(pack_dir, threads), make_frame(pack_dir, image), runs)
    return {**result, "packBytes": pack_bytes(pack_dir), "peakRssMB": peak_rss_mb()}, kept


def compare_variants(a) -> dict:
    """The fp32 pack and each variant in onnxruntime-python, each in a process of its own (a process that has held
    a full-size pack's sessions keeps their memory), one after the other; the fp32 entry is also the
    onnxruntime-python column of the side-by-side table."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    packs = [("fp32", a.pack)] + [(read_manifest(d).get("dtype", os.path.basename(d)), d) for d in a.variants.split(",")]
    out, ref = {"runtime": "onnxruntime-python", "threads": a.threads, "runs": a.runs, "variants": {}}, None
    for dtype, d in packs:
        log(f"variant {dtype}: {d}")
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            entry, kept = pool.submit(measure_pack, d, a.image, a.threads, a.runs).result()
        if ref is None:
            ref = kept
        else:
            entry.update(agreement(ref, kept))
        out["variants"][dtype] = entry
    out["peakRssMB"] = max(v["peakRssMB"] for v in out["variants"].values())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m sam3_export.peers", description=__doc__.split("\n")[0])
    p.add_argument("--pack", required=True, help="a complete fp32 pack")
    p.add_argument("--runtime", choices=["ort", "torch"], default="ort")
    p.add_argument("--variants", default=None, help="comma-separated fp16 / int8 packs to compare with --pack (ort)")
    p.add_argument("--from", dest="source", default=None, help="the pack's source (when it has no hf/ weights)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--image", default=None, help="image file (default: the exporter's scene)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=2, help="timed runs after one warm-up run")
    a = p.parse_args(argv)
    result = compare_variants(a) if a.variants else time_runtime(a)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
