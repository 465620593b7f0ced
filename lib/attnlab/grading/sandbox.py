"""Student code at grading time runs in a bubblewrap sandbox, with none of the grader's rights.

A graded kernel sees, read-only, the system's programs and libraries, Python with its packages (this library among
them) and the folder of the notebook it runs; it writes only in a private folder of its own (its HOME and TMPDIR),
deleted when it is shut down. Everything else is not there at all: the course root with solutions/, gradebook.db
and the other students' submissions, the exchange, the grader's home and environment, other kernels' connection
files. It has no network (a network namespace of its own), sees no process but its own (a pid namespace: it cannot
signal nbgrader), runs as nobody, in a session of its own, dies with its parent, and is held to MEMORY_GIB of
address space and FILE_GIB per file.

How nbgrader gets there, from nbgrader_config.py alone (so `nbgrader autograde`, `python -m attnlab.grading` and a
hub's formgrader all grade the same way): the course's Execute preprocessor (attnlab.grading.preprocessors) starts
its kernels with SandboxKernelManager, whose kernel spec runs the launcher (kernel_launcher.py) in place of
ipykernel; the launcher sets the limits and execs bwrap around ipykernel, mounting only what it lists. Kernel and
nbgrader talk over Unix sockets (jupyter's "ipc" transport) in the kernel's private folder, the one folder both
sides see: TCP on 127.0.0.1 would need the host's network.
"""
import functools
import shutil
import subprocess
import sys
import tempfile
import weakref
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import Float

from . import kernel_launcher
from .kernel_launcher import MEMORY_GIB, NOBODY


@functools.cache
def problem():
    """Why this machine cannot sandbox a kernel, or None when it can (asked once per process)."""
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed"
    try:
        probe = subprocess.run(["bwrap", "--unshare-all", "--uid", NOBODY, "--gid", NOBODY, "--ro-bind", "/", "/",
                                "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        return f"bwrap does not run ({error})"
    if probe.returncode != 0:
        return f"bwrap cannot create the sandbox's namespaces (user namespaces not permitted?): " \
               f"{probe.stderr.strip() or probe.returncode}"
    return None


class SandboxKernelManager(AsyncKernelManager):
    """Starts each kernel through the launcher, its connection file and sockets in a private folder made for it,
    removed when the kernel is shut down."""
    memory = Float(MEMORY_GIB, config=True, help="GiB of address space a graded kernel may use")

    def __init__(self, **kwargs):
        self.private = Path(tempfile.mkdtemp(prefix="attnlab-kernel-"))
        # Removed at shut-down, or when nbgrader lets go of a kernel that died without one.
        weakref.finalize(self, shutil.rmtree, self.private, ignore_errors=True)
        super().__init__(transport="ipc", connection_file=str(self.private / "kernel.json"),
                         ip=str(self.private / "ipc"), **kwargs)

    @property
    def kernel_spec(self):
        # Interrupts go as messages: the kernel's process is out of reach of nbgrader's signals, by design.
        return KernelSpec(argv=[sys.executable, kernel_launcher.__file__, "--memory", str(self.memory), "-f",
                                "{connection_file}"], display_name="Python 3 (sandboxed)", language="python",
                          interrupt_mode="message")

    async def _async_cleanup_resources(self, restart=False):  # what shutting a kernel down calls
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.private, ignore_errors=True)
