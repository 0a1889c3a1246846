"""robofuse: time-aligned, failure-tolerant fusion of camera, LIDAR, IMU and audio.

``import robofuse`` needs only numpy and the light runtime dependencies; torch, onnxruntime,
TensorRT, rclpy and OpenCV are imported inside the modules that use them.
"""

from importlib.resources import files
from pathlib import Path

__version__ = "0.1.0"


def default_rig_path() -> Path:
    """The simulated rig that ships inside the package (``robofuse/data/sim_rig.yaml``)."""
    return Path(str(files("robofuse") / "data" / "sim_rig.yaml"))


def default_model_path() -> Path:
    """The fusion model that ships inside the package (ONNX; its JSON sidecar lies beside it)."""
    return Path(str(files("robofuse") / "data" / "default_model.onnx"))


def default_checkpoint_path() -> Path:
    """The training checkpoint the shipped model was exported from (torch reference backend, EMAP, GPU bench)."""
    return Path(str(files("robofuse") / "data" / "default_model.pt"))
