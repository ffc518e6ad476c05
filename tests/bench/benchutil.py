"""What the bench scripts share (run-scale.py, run-exclusive.py): waiting
for a daemon's mount, writing the report, and the common entry point."""

import os
import subprocess
import sys
import time

MOUNT_WAIT_S = 10


def wait_mounted(path, proc):
    """Wait until path is a mountpoint; fail if proc (a daemon, or None)
    exits first or the mount takes over MOUNT_WAIT_S seconds."""
    deadline = time.time() + MOUNT_WAIT_S
    while time.time() < deadline:
        if os.path.ismount(path):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("daemon exited %d" % proc.returncode)
        time.sleep(0.05)
    raise RuntimeError("%s did not mount" % path)


def write_report(text, out):
    """Print the report, and write it to out too if given."""
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)


def run_main(main, name):
    """Exit with main()'s status; an error of the run is one line."""
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        print("%s: %s" % (name, e), file=sys.stderr)
        sys.exit(1)
