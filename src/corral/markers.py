"""The names corral gives to what it leaves in processes: environment markers, role markers,
the variables that pass descriptors between launcher, guard and supervisor, and the descriptor
numbers a service inherits. One definition, imported by every process role (the guard too: this
module imports nothing).
"""

# Carried by every process a service starts and all their descendants (markers layer).
PROJECT = "CORRAL_PROJECT_ID"
SERVICE = "CORRAL_SERVICE"
RUN = "CORRAL_RUN_ID"
ROOT = "CORRAL_PROJECT_ROOT"  # not for matching: it lets anyone name the project
MATCHED = (PROJECT, SERVICE, RUN)  # the triple a marker hit must match
PREFIX = "CORRAL_"

# Set on the supervisor and the guard only, never on services: "supervisor" or "guard".
ROLE = "CORRAL_ROLE"

# Descriptors handed from the launcher to the guard and the supervisor, by variable name.
READY_FD = "CORRAL_READY_FD"  # the supervisor writes "listening" on it (see corral.launch.launcher)
HOLD_FD = "CORRAL_HOLD_FD"  # a prelaunched guard waits on it for the word (corral.launch.prelaunch)

# The descriptor where a service finds the write end of its lifeline pipe.
LIFELINE_FD = 3

# "portable" selects the portable OS layer (the one macOS uses) on Linux too: see corral.oslayer.
OSLAYER = "CORRAL_OSLAYER"
