"""The attnlab class hub: JupyterHub with nbgrader's exchange and the course's formgrader (guide: hub/README.md).

Paths come from environment variables, with defaults for a real server (The Littlest JupyterHub's layout);
tests/test_hub.py points them at temporary directories.
"""
import os
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

# The one line an instructor changes. "dummy" lets anyone on the roster in with any password: for a trial, never
# for a class. For a class, your institution's login through oauthenticator: "generic-oauth" (or "github",
# "google", "azuread"), configured as hub/README.md says.
c.JupyterHub.authenticator_class = "dummy"

COURSE_ID = "attnlab"
HUB_DIR = Path(__file__).resolve().parent  # the single-user and formgrader configs live beside this file
COURSE_DIR = os.environ.get("ATTNLAB_COURSE_DIR", "/srv/attnlab")  # the instructors' checkout of this repository
EXCHANGE = os.environ.get("ATTNLAB_EXCHANGE", "/srv/nbgrader/exchange")
ROSTER = os.environ.get("ATTNLAB_ROSTER", "/srv/attnlab-roster.txt")  # lines "instructor NAME" or "student NAME"
GRADER_USER = os.environ.get("ATTNLAB_GRADER_USER", "grader-attnlab")  # the system user the formgrader runs as
FORMGRADER_PORT = os.environ.get("ATTNLAB_FORMGRADER_PORT", "9999")
SINGLEUSER = os.environ.get("ATTNLAB_SINGLEUSER", "/opt/tljh/user/bin/jupyterhub-singleuser")  # the course's env
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


roster = read_roster(ROSTER)
c.Authenticator.allowed_users = set(roster["instructor"] + roster["student"])
c.JupyterHub.load_groups = {INSTRUCTORS: {"users": roster["instructor"]}, STUDENTS: {"users": roster["student"]}}
# Instructors open the formgrader, and see it in the hub's Services menu and in nbgrader's course list. Students
# need no scope of their own: their servers read their groups (below) and nbgrader checks membership.
c.JupyterHub.load_roles = [{
    "name": f"{COURSE_ID}-instructor",
    "groups": [INSTRUCTORS],
    "scopes": [f"access:services!service={COURSE_ID}", "list:services", f"read:services!service={COURSE_ID}"],
}]
# A server's token gets the part of these its user holds: nbgrader's exchange reads the user's groups to know their
# courses, and the course list (instructors only) reads the services.
c.Spawner.server_token_scopes = ["access:servers!server", "users:activity!user", "read:users:groups!user",
                                 "list:services", "read:services"]

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


c.Spawner.environment = {"JUPYTER_CONFIG_PATH": singleuser_config_path, "ATTNLAB_EXCHANGE": EXCHANGE}

# The formgrader: a Jupyter server run by the hub in the course directory (so nbgrader_config.py there applies),
# named after the course, which is how nbgrader's course list finds it.
c.JupyterHub.services = [{
    "name": COURSE_ID,
    "url": f"http://127.0.0.1:{FORMGRADER_PORT}",
    "command": [SINGLEUSER],
    "user": GRADER_USER,
    "cwd": COURSE_DIR,
    "environment": {"JUPYTER_CONFIG_PATH": str(HUB_DIR / "formgrader"), "ATTNLAB_EXCHANGE": EXCHANGE,
                    "JUPYTERHUB_DEFAULT_URL": "/lab"},
    "oauth_no_confirm": True,
}]
