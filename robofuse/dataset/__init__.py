"""Training data from the simulated rig: labelled windows at training resolution.

``rig.training_rig(seed)`` is the bundled rig rendered small (64x48 camera, 360-step LIDAR);
``generate.generate(seed, n)`` runs it through the AlignmentBuffer and keeps every window's
inputs, mask, labels and conditions as a :class:`~robofuse.dataset.generate.WindowSet`, which
saves to and loads from one ``.npz``; ``generate.cached`` keeps such files keyed by seed,
count and the training rig's configuration.
"""
