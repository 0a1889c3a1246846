"""Fusion engines: one ``infer(window) -> outputs`` contract over several backends.

``make_engine(EngineConfig(...))`` (in :mod:`robofuse.engine.base`) builds an engine; each
backend (``torch``, ``onnxruntime``) lives in its own module and is imported only when selected,
so importing this package needs neither torch nor onnxruntime.
"""
