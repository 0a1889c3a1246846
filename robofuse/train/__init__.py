"""Training of the fusion model: config, training loop, ONNX export with its JSON sidecar.

Only this package (and :mod:`robofuse.model`) imports torch; the runtime needs the exported
ONNX file and its sidecar alone.
"""
