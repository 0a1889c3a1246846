"""``robofuse evaluate``: accuracy per sensor subset, specialists, noise robustness, EMAP and gates.

Small modules with one job each: :mod:`.data` (evaluation windows), :mod:`.subsets` (the 15
sensor subsets and the metrics), :mod:`.models` (running ONNX files and checkpoints),
:mod:`.robustness` (noise and MultiBench's robustness measures), :mod:`.runner` (one pass of a
model over the data), :mod:`.specialists`, :mod:`.emap`, :mod:`.gates` and :mod:`.report`.
Torch and matplotlib are imported only inside the functions that need them.
"""
