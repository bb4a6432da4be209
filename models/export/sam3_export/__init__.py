"""SAM 3 -> ONNX model packs for sam3-flow (a build-time tool; nothing at run time of the Node package needs it)."""
__version__ = "0.1.0"
