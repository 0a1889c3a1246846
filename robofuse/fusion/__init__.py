"""Fusion layers that stay correct when any subset of sensors is missing.

Every layer takes per-modality features ``x`` of shape ``(B, M, D)`` and a float mask
``(B, M)`` (1 present, 0 missing) and returns ``(fused, info)``: the fused features
``(B, D_out)`` and a :class:`~robofuse.fusion.base.FusionInfo` with per-modality weights
(zero where masked) and a ``usable`` flag that is False where no modality was present.

Import the submodules (``robofuse.fusion.factory``, ``.layers``, ``.tensor``) directly: this
package file imports nothing, so ``import robofuse`` never pulls in PyTorch.
"""
