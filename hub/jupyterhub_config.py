"""The attnlab class hub: nbgrader's exchange, the course's formgrader and an idle culler, added to a JupyterHub
(guide: hub/README.md).

Loaded after the deployment's own config (The Littlest JupyterHub's jupyterhub_config.d/), it adds to it: its
services, roles, groups, users and environment go next to the deployment's, and the deployment's authenticator is
the one used. Paths come from environment variables, with defaults for The Littlest JupyterHub's layout;
tests/test_hub.py points them at temporary directories.
"""
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

COURSE_ID = "attnlab"
HUB_DIR = Path(__file__).resolve().parent  # the single-user and formgrader configs live beside this file
COURSE_DIR = os.environ.get("ATTNLAB_COURSE_DIR", "/srv/attnlab")  # the instructors' checkout of this repository
EXCHANGE = os.environ.get("ATTNLAB_EXCHANGE", "/srv/nbgrader/exchange")
ROSTER = os.environ.get("ATTNLAB_ROSTER", "/srv/attnlab-roster.txt")  # lines "instructor NAME" or "student NAME"
GRADER_USER = os.environ.get("ATTNLAB_GRADER_USER", "grader-attnlab")  # the system user the formgrader runs as
FORMGRADER_PORT = os.environ.get("ATTNLAB_FORMGRADER_PORT", "9999")
SINGLEUSER = os.environ.get("ATTNLAB_SINGLEUSER", "/opt/tljh/user/bin/jupyterhub-singleuser")  # the course's env
# The Unix user of each student ({student}: their hub name), who must own what they hand in; TLJH's naming.
STUDENT_UNIX_USER = os.environ.get("ATTNLAB_STUDENT_UNIX_USER", "jupyter-{student}")
CULL_IDLE_AFTER = int(os.environ.get("ATTNLAB_CULL_IDLE_AFTER", "3600"))  # seconds without activity
# nbgrader knows a course's instructors and students by these two group names.
INSTRUCTORS, STUDENTS = f"formgrade-{COURSE_ID}", f"nbgrader-{COURSE_ID}"


def read_roster(path):
    """{"instructor": [names], "student": [names]} from the roster file (blank lines and # comments skipped)."""
    roster = {"instructor": [], "student": []}
    for line in Path(path).read_text().splitlines():
        entry = line.split("#")[0].split()
        if entry:
            role, name = entry
            roster[role].append(name)
    return roster


# Everything below adds to the deployment's config, never replaces it: lists are appended to, dicts and sets
# updated. traitlets applies these to what the deployment set, even from a file loaded with load_subconfig (as
# TLJH loads jupyterhub_config.d/), which cannot see the deployment's values, only add to them.
roster = read_roster(ROSTER)
c.Authenticator.allowed_users.update(roster["instructor"] + roster["student"])
c.JupyterHub.load_groups.update({INSTRUCTORS: {"users": roster["instructor"]},
                                 STUDENTS: {"users": roster["student"]}})
# Instructors open the formgrader, and see it in the hub's Services menu and in nbgrader's course list. Students
# need no scope of their own: their servers read their groups (below) and nbgrader checks membership.
c.JupyterHub.load_roles.append({
    "name": f"{COURSE_ID}-instructor",
    "groups": [INSTRUCTORS],
    "scopes": [f"access:services!service={COURSE_ID}", "list:services", f"read:services!service={COURSE_ID}"],
})
# A server's token gets the part of these its user holds: its own server and activity (what it gets where none are
# listed), the user's groups (nbgrader's exchange knows their courses by them), the services (instructors' course
# list).
c.Spawner.server_token_scopes.extend(["access:servers!server", "users:activity!user", "read:users:groups!user",
                                      "list:services", "read:services"])

# The exchange is shared by everyone: writable by all like /tmp, and sticky so that no student can rename or delete
# the course's folder in it (nbgrader sets the modes below that: outbound 755, inbound 2733, feedback 711).
os.makedirs(EXCHANGE, exist_ok=True)
os.chmod(EXCHANGE, 0o1777)


def singleuser_config_path(spawner):
    """Every server gets nbgrader's exchange and the user's identity (singleuser/); students' servers also hide
    nbgrader's course list (student/), which would only point them at a formgrader they cannot open."""
    is_instructor = INSTRUCTORS in {group.name for group in spawner.user.groups}
    folders = ["singleuser"] if is_instructor else ["student", "singleuser"]
    return os.pathsep.join(str(HUB_DIR / folder) for folder in folders)


c.Spawner.environment.update({"JUPYTER_CONFIG_PATH": singleuser_config_path, "ATTNLAB_EXCHANGE": EXCHANGE})

# The formgrader: a Jupyter server run by the hub in the course directory (so nbgrader_config.py there applies,
# with how autograding runs student code), named after the course, which is how nbgrader's course list finds it.
# Its PATH starts with the course environment's programs (the hub's own environment may have none of them): its
# terminal runs `nbgrader`, and nbgrader itself runs `alembic` by name when it opens the gradebook.
c.JupyterHub.services.append({
    "name": COURSE_ID,
    "url": f"http://127.0.0.1:{FORMGRADER_PORT}",
    "command": [SINGLEUSER],
    "user": GRADER_USER,
    "cwd": COURSE_DIR,
    "environment": {"JUPYTER_CONFIG_PATH": str(HUB_DIR / "formgrader"), "ATTNLAB_EXCHANGE": EXCHANGE,
                    "ATTNLAB_STUDENT_UNIX_USER": STUDENT_UNIX_USER, "JUPYTERHUB_DEFAULT_URL": "/lab",
                    "PATH": os.pathsep.join([str(Path(SINGLEUSER).parent), os.environ.get("PATH", "/usr/bin:/bin")])},
    "oauth_no_confirm": True,
})

# Servers idle for CULL_IDLE_AFTER seconds are stopped, so that forgotten tabs do not hold the machine's memory
# (a student's work is saved in their home; they start again from the hub). jupyterhub-idle-culler runs in the
# hub's environment; its role is what it needs: list users and servers, read their activity, stop servers.
c.JupyterHub.services.append({
    "name": f"{COURSE_ID}-idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_IDLE_AFTER}"],
})
c.JupyterHub.load_roles.append({
    "name": f"{COURSE_ID}-idle-culler",
    "services": [f"{COURSE_ID}-idle-culler"],
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
})
