"""The kernel launcher of the grading sandbox (see attnlab.grading.sandbox), run by its path, so that starting a
kernel imports nothing but the standard library (not attnlab, which imports torch):

    python .../attnlab/grading/kernel_launcher.py [--memory GIB] -f CONNECTION_FILE [ipykernel's arguments]

It sets the limits, then execs bwrap around ipykernel, with the connection file's folder as the kernel's private
folder, and the folder it was started in (the notebook's) as the kernel's working directory.
"""
import argparse
import os
import resource
import sys
from pathlib import Path

MEMORY_GIB = 8.0  # torch reserves address space generously; the largest course cell uses well under 2 GiB
FILE_GIB = 1.0
NOBODY = "65534"
# What of /etc a Python kernel needs (users, the dynamic linker, time zones, fonts, certificates), and no more: the
# sandbox user is the grader outside it, so whatever the grader may read there, it could read.
ETC = ("passwd", "group", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone",
       "alternatives", "fonts", "ssl", "mime.types")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/sys/devices/system/cpu")
# The environment a kernel keeps: nothing else of the grader's (a hub's formgrader has API tokens in it).
ENVIRONMENT = ("PATH", "LANG", "TZ", "PYTHONPATH", "PYTHONHASHSEED", "MPLBACKEND")
ENVIRONMENT_PREFIXES = ("ATTNLAB_", "NBGRADER_", "LC_", "OMP_", "MKL_")


def python_paths(workdir):
    """Where Python and its packages live (read-only in the sandbox); never a folder that holds `workdir`, which
    would be the course root (a PYTHONPATH of ".", say) with the solutions and the gradebook in it."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent), *sys.path[1:]}
    paths = {Path(p).resolve() for p in found if p}
    return sorted(str(p) for p in paths if p.exists() and not (p == workdir or p in workdir.parents))


def environment(private):
    keep = {name: value for name, value in os.environ.items()
            if name in ENVIRONMENT or name.startswith(ENVIRONMENT_PREFIXES)}
    return {**keep, "HOME": str(private / "home"), "TMPDIR": str(private / "tmp"), "USER": "nobody"}


def bwrap_command(kernel, workdir, private):
    """bwrap's command line running `kernel` in the notebook's folder `workdir`, writing only in `private`."""
    command = ["bwrap", "--unshare-all", "--uid", NOBODY, "--gid", NOBODY, "--die-with-parent", "--new-session",
               "--clearenv", "--proc", "/proc", "--dev", "/dev"]
    for path in SYSTEM:
        command += ["--ro-bind-try", path, path]
    for name in ETC:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in python_paths(workdir):
        command += ["--ro-bind", path, path]
    command += ["--ro-bind", str(workdir), str(workdir), "--bind", str(private), str(private), "--chdir", str(workdir),
                # The sandbox's own root, where bwrap made the folders above each mount, stays read-only: a file
                # written at the course's path must fail, not land in a folder that only looks like the course.
                "--remount-ro", "/"]
    for name, value in environment(private).items():
        command += ["--setenv", name, value]
    return command + ["--", *kernel]


def main(argv=None):
    """Exec ipykernel in the sandbox, with the connection file's folder as its private folder."""
    parser = argparse.ArgumentParser(prog="kernel_launcher.py", description=main.__doc__)
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--memory", type=float, default=MEMORY_GIB, help="GiB of address space (default %(default)s)")
    args, kernel_args = parser.parse_known_args(argv)
    connection_file = Path(args.connection_file).resolve()
    private = connection_file.parent
    for folder in ("home", "tmp"):
        (private / folder).mkdir(exist_ok=True)
    for limit, size in ((resource.RLIMIT_AS, args.memory), (resource.RLIMIT_FSIZE, FILE_GIB)):
        resource.setrlimit(limit, (int(size * 2**30),) * 2)
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection_file), *kernel_args]
    os.execvp("bwrap", bwrap_command(kernel, Path.cwd().resolve(), private))


if __name__ == "__main__":
    main()
