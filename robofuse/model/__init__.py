"""The fusion model: fixed preprocessing, per-modality encoders, masked fusion and task heads.

Only modules under ``robofuse.model`` import torch; the rest of robofuse stays importable
without it.
"""
