"""The simulated rig: a procedural world and four simulated sensors, each on its own clock.

``SimRig(load_rig(robofuse.default_rig_path()))`` is a Source like any driver or bag; its
truths (world labels, clock parameters, each message's true measurement time) are public so
tests and drills can score what robofuse estimates. See docs/cue_table.md for the task.
"""

from robofuse.sim.faults import Fault
from robofuse.sim.rig import SimRig

__all__ = ["Fault", "SimRig"]
