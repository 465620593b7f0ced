"""The class hub end to end: hub/jupyterhub_config.py on a real JupyterHub at 127.0.0.1 (free ports, temporary
directories), with one instructor and three students going through part0_foundations.

The instructor works in the formgrader (a hub service) through its HTTP API and its terminal; each student works in
their own single-user server through its HTTP API (nbgrader's assignment list, Jupyter's contents), as the
JupyterLab extensions do. Every user's server runs as their own Unix user, as on The Littlest JupyterHub (the test
creates them, so it runs as root, as CI does, and removes them after). Two students misbehave: bob hands in under
alice's name, hands in links to the solutions, and submits a notebook that attacks the grader; carol, late, hands
in a submission that says it was on time. One module-wide run does the whole cycle; each test below checks one
thing against it, while the hub still runs. Run alone with `pytest -m hub`.
"""
import contextlib
import csv
import getpass
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import nbformat
import psutil
import pytest
import requests
import websocket
from nbgrader.api import Gradebook

from course import ROOT, printed, scratch_course
from test_grading import full_marks, untouched, with_last_answer

pytestmark = pytest.mark.hub

COURSE, ASSIGNMENT = "attnlab", "part0_foundations"
INSTRUCTOR = "ada"
# Each student's answers, made from (solution, fetched notebook) by test_grading's recipes, which also say what
# autograding must give them: the solution in full, the notebook as fetched, or the solution with its last answer
# raising (which costs that answer's tests and no others).
STUDENTS = {"alice": full_marks, "bob": untouched, "carol": with_last_answer('raise RuntimeError("I give up")')}
# alice first submits the notebook as fetched, then her answers: the second submission must replace the first.
RESUBMITS = "alice"
# The due date passes just before carol submits; she loses this fraction of her score (hub/formgrader/
# nbgrader_config.py: 10% per day begun). Then she forges a submission that says it is on time (forge_submissions).
LATE, LATE_PENALTY = "carol", 0.1
# bob hands in the notebook as fetched, with Jupyter's checkpoints over the 100 MB limit beside it and a cell that
# attacks the grader; then he forges submissions in the exchange's inbound.
CULPRIT = "bob"
IDLE = "idle"  # a user whose server is never used: the idle culler stops it
CULL_IDLE_AFTER = 20  # seconds
SLOW = 300  # seconds: the longest any one request may take (an autograde runs a whole notebook)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# What this machine needs and a class does not: any roster name logs in (the deployment's authenticator is the
# dummy one), servers are local processes, each run as its user's own Unix user (named as The Littlest JupyterHub
# names them, with the test's prefix in place of "jupyter-"), the formgrader runs as root, and two busy cores start
# servers slowly. The deployment has a service and a role of its own (the test's, whose token creates users' tokens
# and starts their servers): the hub's config must add to them, not replace them. The idle culler may only see the
# idle user, so that it leaves alone the servers the test uses.
TEST_CONFIG = """
import pwd
from jupyterhub.spawner import LocalProcessSpawner


class UnixUserSpawner(LocalProcessSpawner):
    def unix_user(self):
        return pwd.getpwnam({prefix!r} + self.user.name)

    def make_preexec_fn(self, name):
        return super().make_preexec_fn(self.unix_user().pw_name)

    def user_env(self, env):
        unix = self.unix_user()
        env.update(USER=unix.pw_name, HOME=unix.pw_dir, SHELL=unix.pw_shell)
        return env


c.JupyterHub.services = [{{"name": "e2e-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "e2e-test", "services": ["e2e-test"],
                            "scopes": ["admin:users", "admin:servers", "tokens", "list:services",
                                       "read:services"]}}]
load_subconfig({hub_config!r})
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = UnixUserSpawner
c.Spawner.cmd = [{singleuser!r}]  # the hub's PATH has no course environment, as on TLJH
formgrader = next(service for service in c.JupyterHub.services if service["name"] == "attnlab")
formgrader["command"].append("--allow-root")
formgrader["environment"].update(OMP_NUM_THREADS="1", ATTNLAB_PROGRESS="0")  # the autograding kernels
formgrader["timeout"] = 180  # or the hub gives up on its formgrader after 30 s, and exits
culler = next(role for role in c.JupyterHub.load_roles if role["name"] == "attnlab-idle-culler")
culler["scopes"] = [f"{{scope}}!user={idle}" for scope in culler["scopes"]]
c.Spawner.http_timeout = c.Spawner.start_timeout = 180
c.JupyterHub.cleanup_servers = False  # the test stops them, all at once: faster than the hub, one by one
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}  # a spawn request answers at once; the test polls
c.JupyterHub.ip, c.JupyterHub.port, c.JupyterHub.hub_port = "127.0.0.1", {port}, {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
# The pure-Python proxy cuts requests off after 20 s by default; the formgrader's autograding takes longer.
c.ConfigurableHTTPProxy.command = [{proxy!r}, "--timeout={slow_ms}", "--proxy-timeout={slow_ms}"]
"""


class Processes:
    """The hub and all it starts (proxy, formgrader, servers, kernels), remembered while the hub runs, so that each
    is stopped by PID at the end, even when the hub itself died first."""

    def __init__(self, hub):
        self.hub, self.known = hub, {}

    def remember(self):
        try:
            children = psutil.Process(self.hub.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for child in children:
            self.known.setdefault(child.pid, child)

    def stop(self):
        """The hub first: it stops its formgrader and proxy (stopped behind its back, it would start them again).
        Then the servers it leaves (cleanup_servers) and anything else left, killed by PID: they hold nothing worth
        a graceful stop, which takes them seconds (is_running: still the same process, not one given its PID)."""
        self.remember()
        self.hub.terminate()
        try:
            self.hub.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.hub.kill()
            self.hub.wait()
        left = [process for process in self.known.values() if process.is_running()]
        for process in left:
            with contextlib.suppress(psutil.NoSuchProcess):  # it may end by itself meanwhile
                process.kill()
        psutil.wait_procs(left, timeout=10)


class Hub:
    """A running hub: HTTP calls through its proxy as a user (by their token), or to its REST API as the test's
    admin service (straight to the hub, which answers before the proxy routes to it)."""

    def __init__(self, url, api, admin_token, log, processes):
        self.url, self.api, self.tokens, self.log, self.processes = url, api, {"admin": admin_token}, log, processes

    def call(self, method, path, user, expect=200, **kwargs):
        response = self.request(method, self.url + path, user, **kwargs)
        assert response.status_code == expect, (f"{method} {path} as {user}: {response.status_code}, not {expect}\n"
                                                f"{response.text[-2000:]}\nhub log ({self.log}):\n{self.tail()}")
        return response

    def request(self, method, url, user, **kwargs):
        return requests.request(method, url, headers={"Authorization": f"token {self.tokens[user]}"}, timeout=SLOW,
                                **kwargs)

    def admin(self, method, path, expect=200):
        response = self.request(method, f"{self.api}/hub/api/{path}", "admin")
        assert response.status_code == expect, f"{method} {path}: {response.status_code}\n{self.tail()}"
        return response.json() if response.content else None  # a spawn request answers with no body

    def responds(self, url, user="admin"):
        try:
            return self.request("GET", url, user).status_code == 200
        except requests.ConnectionError:
            return False

    def login(self, name):
        """Log in at the hub's login page, as a browser does (the dummy authenticator takes any password). Returns
        the reply and the session."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login", timeout=SLOW)
        reply = session.post(f"{self.url}/hub/login", data={"username": name, "password": "any",
                                                             "_xsrf": session.cookies["_xsrf"]},
                             allow_redirects=False, timeout=SLOW)  # a redirect would go on to start a server
        return reply, session

    def tail(self):
        return self.log.read_text()[-4000:]

    def formgrader(self, method, path, **kwargs):
        """The instructor's call to the formgrader's API; nbgrader's actions must succeed."""
        reply = self.call(method, f"/services/{COURSE}/formgrader/api/{path}", user=INSTRUCTOR, **kwargs).json()
        assert reply.get("success", True), reply.get("log", reply)
        return reply

    def assignments(self, user, action=None):
        """A student's nbgrader assignment list, after `action` (fetch, submit, fetch_feedback) if given; as the
        extension does. {status: entry} for the course's assignment."""
        path, args = f"/user/{user}/assignments", {"course_id": COURSE, "assignment_id": ASSIGNMENT}
        reply = (self.call("POST", f"{path}/{action}", user, json=args) if action
                 else self.call("GET", path, user, params={"course_id": COURSE})).json()
        assert reply["success"], reply["value"]
        return {entry["status"]: entry for entry in reply["value"] if entry["assignment_id"] == ASSIGNMENT}

    def contents(self, user, path, model=None):
        """Read (or, given a model, write) a file in a user's server, as JupyterLab does."""
        url = f"/user/{user}/api/contents/{path}"
        return self.call("PUT", url, user, json=model).json() if model else self.call("GET", url, user).json()

    def wait_until(self, ready, what, timeout=SLOW):
        deadline = time.monotonic() + timeout
        while not ready():
            self.processes.remember()  # whatever the hub started meanwhile, in case the hub dies
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{self.tail()}"
            time.sleep(1)  # no faster: every poll costs the busy hub some CPU


def servers_ready(hub, users):
    servers = {user["name"]: user["servers"].get("", {}) for user in hub.admin("GET", "users")}
    failed = [user for user in users if not servers[user]]
    assert not failed, f"these servers failed to start: {failed}\n{hub.tail()}"
    return all(servers[user]["ready"] for user in users)


class UnixUsers:
    """A Unix user for each hub user, PREFIX + name (hubtest1a2b-alice, as The Littlest JupyterHub's jupyter-alice),
    with a private home in `homes`; remove() removes them all."""

    def __init__(self, homes):
        self.prefix, self.homes, self.created = f"hubtest{secrets.token_hex(2)}-", homes, []

    def add(self, name):
        home = self.homes / name
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/bash", "--user-group",
                        self.prefix + name], check=True, capture_output=True)
        self.created.append(self.prefix + name)
        home.chmod(0o700)  # private, as TLJH's homes are, whatever this system's default

    def run(self, name, *args):
        """Run Python (no site packages needed) as the user; returns its standard output."""
        done = subprocess.run([sys.executable, "-I", *args], user=self.prefix + name, group=self.prefix + name,
                              extra_groups=[], cwd=self.homes / name, capture_output=True, text=True)
        assert done.returncode == 0, f"as {self.prefix + name}: {done.stderr[-2000:]}"
        return done.stdout

    def uid(self, name):
        return pwd.getpwnam(self.prefix + name).pw_uid

    def remove(self):
        left = [unix for unix in self.created
                if subprocess.run(["userdel", "--remove", unix], capture_output=True).returncode != 0]
        assert not left, f"could not remove these Unix users: {left}"


def start_hub(tmp, course, exchange, unix):
    """Start the hub on free ports, the course's paths pointed at temporary directories."""
    port, hub_port, proxy_api_port, formgrader_port = free_ports(4)
    roster = tmp / "roster.txt"
    roster.write_text(f"instructor {INSTRUCTOR}\n" + "".join(f"student {name}\n" for name in STUDENTS))
    token = secrets.token_hex(32)
    state = tmp / "hub"
    state.mkdir()
    bin_dir = Path(sys.executable).parent
    config = state / "jupyterhub_config.py"
    config.write_text(TEST_CONFIG.format(
        hub_config=str(ROOT / "hub" / "jupyterhub_config.py"), prefix=unix.prefix, idle=IDLE, port=port,
        hub_port=hub_port, proxy_api_port=proxy_api_port, proxy=str(bin_dir / "configurable-http-proxy"),
        singleuser=str(bin_dir / "jupyterhub-singleuser"), slow_ms=SLOW * 1000, token=token))
    # No course environment on the hub's PATH, as on TLJH (the hub has its own): the formgrader's terminal must find
    # nbgrader through the PATH the hub's config gives it.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(state),
           "ATTNLAB_COURSE_DIR": str(course), "ATTNLAB_EXCHANGE": str(exchange), "ATTNLAB_ROSTER": str(roster),
           "ATTNLAB_GRADER_USER": getpass.getuser(), "ATTNLAB_FORMGRADER_PORT": str(formgrader_port),
           "ATTNLAB_SINGLEUSER": str(bin_dir / "jupyterhub-singleuser"),
           "ATTNLAB_STUDENT_UNIX_USER": unix.prefix + "{student}", "ATTNLAB_CULL_IDLE_AFTER": str(CULL_IDLE_AFTER)}
    log = state / "jupyterhub.log"
    with open(log, "w") as out:
        # SIGINT as Python expects it: a test run started in the background (nohup, `cmd &`) ignores it, and the hub's
        # services would inherit that, so that stopping the hub waited out each one's 30 s interrupt timeout.
        process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=state, env=env,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return Hub(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hub_port}", token, log, Processes(process))


@dataclass
class Cycle:
    hub: Hub
    unix: UnixUsers
    course: Path
    exchange: Path
    expected: dict  # student -> notebook -> the score their answers deserve
    maximum: float  # the assignment's points, written answers included
    grades: dict  # student -> their row of nbgrader's exported CSV
    feedback: dict  # student -> notebook -> the HTML feedback they fetched
    submissions: dict  # student -> their submissions, as their assignment list shows them at the end
    forged: dict  # the inbound folders bob forged -> what each is
    collected: str  # the formgrader's log of the collection
    exported: str  # what the instructor's terminal showed of `nbgrader export`


# A cell bob adds to his notebook: it tries to read the solutions, write into the exchange and zero everyone's grades
# in the gradebook, and prints how each attempt ended. The grader runs it (autograde): in the sandbox, all fail.
ATTACK = """
import json, pathlib, sqlite3
tried = {{}}
def attempt(what, action):
    try:
        action()
        tried[what] = "done"
    except Exception as error:
        tried[what] = type(error).__name__
attempt("read the solutions", lambda: print(pathlib.Path({solution!r}).read_text()))
attempt("write into the exchange", lambda: pathlib.Path({planted!r}).write_text("pwned"))
def zero_everyone():
    with sqlite3.connect({gradebook!r}) as db:
        db.execute("UPDATE grade SET manual_score = 0")
attempt("edit the gradebook", zero_everyone)
print("ATTACK", json.dumps(tried))
"""


def planted(exchange):
    """Where bob's attack tries to write: beside the released notebooks every student fetches."""
    return exchange / COURSE / "outbound" / ASSIGNMENT / "planted.txt"


def answer_and_submit(hub, course, exchange, unix, student, answer):
    """The student fetches the assignment in their server, writes their answers into each notebook and submits.
    Returns notebook -> the score those answers deserve."""
    assert "released" in hub.assignments(student)
    fetched = hub.assignments(student, "fetch")["fetched"]
    if student == RESUBMITS:
        hub.assignments(student, "submit")
    deserved = {}
    for index, notebook in enumerate(fetched["notebooks"]):
        model = hub.contents(student, notebook["path"])
        solution_path = course / "solutions" / ASSIGNMENT / f"{notebook['notebook_id']}.ipynb"
        submission, deserved[notebook["notebook_id"]] = answer(nbformat.read(solution_path, 4),
                                                               nbformat.from_dict(model["content"]),
                                                               first=index == 0)
        if student == CULPRIT and index == 0:
            submission.cells.append(nbformat.v4.new_code_cell(ATTACK.format(
                solution=str(solution_path), planted=str(planted(exchange)),
                gradebook=str(course / "gradebook.db"))))
        hub.contents(student, notebook["path"], {"type": "notebook", "format": "json", "content": submission})
    if student == CULPRIT:  # checkpoints over the limit: a sparse file, which takes no disk space
        checkpoints = unix.homes / student / ASSIGNMENT / ".ipynb_checkpoints"
        unix.run(student, "-c", f"import os; os.makedirs({str(checkpoints)!r}, exist_ok=True); "
                                f"os.truncate(os.open({str(checkpoints / 'big-checkpoint.ipynb')!r}, "
                                f"os.O_CREAT | os.O_WRONLY), 101_000_000)")
    assert "submitted" in hub.assignments(student, "submit")
    return deserved


# Folders written straight into the exchange's inbound, as any student can, each in the forger's own account and
# later than any real submission, so that nbgrader's own collect would take it as the student's latest: bob's
# notebooks under alice's name; links to the solution notebooks in place of bob's; a name with no time; and carol's
# answers, saying they were handed in an hour before the due date.
FORGE = """
import json, os, shutil, sys
fetched, inbound, solutions, forgeries = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
for name, stated, links in forgeries:
    folder = os.path.join(inbound, name)
    shutil.copytree(fetched, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    with open(os.path.join(folder, "timestamp.txt"), "w") as timestamp:
        timestamp.write(stated)
    for notebook in [name for name in os.listdir(folder) if name.endswith(".ipynb") and links]:
        os.remove(os.path.join(folder, notebook))  # named as the solution notebooks are
        os.symlink(os.path.join(solutions, notebook), os.path.join(folder, notebook))
"""


def forge_submissions(course, exchange, unix, due):
    """The forgeries (FORGE). Returns folder name -> what it is."""
    def stamp(moment):
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    now, early = stamp(datetime.now(timezone.utc)), stamp(due - timedelta(hours=1))
    forgeries = {  # forger: (folder, its timestamp.txt, links in place of the notebooks, what it is)
        CULPRIT: [(f"alice+{ASSIGNMENT}+{now}+forged", now, False, "under another name"),
                  (f"bob+{ASSIGNMENT}+{now}+linked", now, True, "links"),
                  (f"bob+{ASSIGNMENT}+no-time-at-all", now, False, "no time")],
        LATE: [(f"carol+{ASSIGNMENT}+{now}+early", early, False, "an earlier time")],
    }
    for forger, folders in forgeries.items():
        unix.run(forger, "-c", FORGE, str(unix.homes / forger / ASSIGNMENT), str(exchange / COURSE / "inbound"),
                 str(course / "solutions" / ASSIGNMENT), json.dumps([folder[:3] for folder in folders]))
    return {name: what for folders in forgeries.values() for name, _, _, what in folders}


class Terminal:
    """A terminal in the formgrader, as the instructor opens it in JupyterLab (Jupyter's terminals API and its
    websocket, through the hub's proxy): type a command, and later read what it printed and its exit status."""

    def __init__(self, hub, command):
        name = hub.call("POST", f"/services/{COURSE}/api/terminals", INSTRUCTOR).json()["name"]
        self.socket = websocket.create_connection(
            f"{hub.url.replace('http', 'ws', 1)}/services/{COURSE}/terminals/websocket/{name}",
            header=[f"Authorization: token {hub.tokens[INSTRUCTOR]}"], suppress_origin=True, timeout=SLOW)
        self.socket.send(json.dumps(["stdin", f"{command}; echo EXIT-STATUS=$?\r"]))

    def finish(self):
        """(exit status, what the terminal showed). The status is the line the shell prints after the command, not
        the echo of the typed line, which shows `$?`."""
        shown = ""
        while not (status := re.search(r"EXIT-STATUS=(\d+)", shown)):
            kind, *content = json.loads(self.socket.recv())
            if kind == "stdout":
                shown += content[0]
        self.socket.close()
        return int(status[1]), shown


def feedback_path(notebook):
    """Where nbgrader put a notebook's feedback, as a contents API path."""
    return quote(Path(notebook["local_feedback_path"]).as_posix())


def points(course):
    """The assignment's points, from the source notebooks: every graded cell, autograded or written."""
    return sum(cell.metadata.nbgrader["points"] for path in (course / "solutions" / ASSIGNMENT).glob("*.ipynb")
               for cell in nbformat.read(path, 4).cells if cell.metadata.get("nbgrader", {}).get("grade"))


def run_course(hub, course, exchange, unix):
    # The servers start while the hub still waits for its formgrader, and the instructor releases meanwhile.
    hub.wait_until(lambda: hub.responds(f"{hub.api}/hub/api/"), "the hub")
    users = [INSTRUCTOR, *STUDENTS]
    hub.admin("POST", f"users/{IDLE}", expect=201)  # not on the roster: nobody logs in as them
    for user in [*users, IDLE]:
        hub.tokens[user] = hub.admin("POST", f"users/{user}/tokens", expect=201)["token"]
        hub.admin("POST", f"users/{user}/server", expect=202)
    hub.wait_until(lambda: hub.responds(f"{hub.url}/services/{COURSE}/formgrader/api/status", INSTRUCTOR),
                   "the formgrader")
    hub.formgrader("POST", f"assignment/{ASSIGNMENT}/assign")  # nbgrader's generate_assignment
    hub.formgrader("POST", f"assignment/{ASSIGNMENT}/release")
    hub.wait_until(lambda: servers_ready(hub, users), "the users' servers")

    expected = {}
    for student, answer in STUDENTS.items():
        if student == LATE:  # the instructor may set the due date at any time; it counts when grading
            due = datetime.now(timezone.utc)
            hub.formgrader("PUT", f"assignment/{ASSIGNMENT}", json={
                "duedate_notimezone": due.strftime("%Y-%m-%d %H:%M:%S.%f"), "duedate_timezone": "UTC"})
        expected[student] = answer_and_submit(hub, course, exchange, unix, student, answer)
    forged = forge_submissions(course, exchange, unix, due)

    collected = hub.formgrader("POST", f"assignment/{ASSIGNMENT}/collect")["log"]
    for student in STUDENTS:
        hub.formgrader("POST", f"submission/{ASSIGNMENT}/{student}/autograde")
    # The export, typed in the formgrader's terminal; its slow start-up overlaps the feedback.
    export = Terminal(hub, f"cd {course} && nbgrader export --to grades.csv")
    hub.formgrader("POST", f"assignment/{ASSIGNMENT}/generate_feedback")
    hub.formgrader("POST", f"assignment/{ASSIGNMENT}/release_feedback")
    feedback, submissions = {}, {}
    for student in STUDENTS:
        submissions[student] = hub.assignments(student, "fetch_feedback")["submitted"]["submissions"]
        latest = submissions[student][-1]["notebooks"]
        feedback[student] = {notebook["notebook_id"]: hub.contents(student, feedback_path(notebook))["content"]
                             for notebook in latest}
    status, exported = export.finish()
    assert status == 0, f"nbgrader export in the formgrader's terminal:\n{exported[-3000:]}"
    with open(course / "grades.csv") as table:
        grades = {row["student_id"]: row for row in csv.DictReader(table) if row["assignment"] == ASSIGNMENT}
    return Cycle(hub, unix, course, exchange, expected, points(course), grades, feedback, submissions, forged,
                 collected, exported)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("creates a Unix user for each user of the hub: run as root (as CI does)")
    tmp = tmp_path_factory.mktemp("hub")  # the course, the roster and the hub's state: root's alone
    course = scratch_course(tmp)
    shared = Path(tempfile.mkdtemp(prefix="attnlab-hub-test-"))  # the exchange and the homes, as /srv and /home
    shared.chmod(0o755)
    (shared / "homes").mkdir()
    unix = UnixUsers(shared / "homes")
    hub = None
    try:
        for user in [INSTRUCTOR, *STUDENTS, IDLE]:
            unix.add(user)
        try:
            unix.run(INSTRUCTOR, "-c", "pass")
        except PermissionError:
            closed = next(folder for folder in reversed(Path(sys.executable).resolve().parents)
                          if not folder.stat().st_mode & stat.S_IXOTH)
            pytest.fail(f"other users cannot run this Python ({Path(sys.executable).resolve()}: {closed} is closed "
                        f"to them), so neither can the hub's servers: run the test from a Python environment all "
                        f"users can read and run, as a hub's is")
        hub = start_hub(tmp, course, shared / "exchange", unix)
        yield run_course(hub, course, shared / "exchange", unix)
    finally:
        if hub:
            hub.processes.stop()
        unix.remove()
        shutil.rmtree(shared, ignore_errors=True)


def test_each_student_scores_what_their_answers_deserve(cycle):
    """The exported grades: the full solution gets every autograded point, the notebook as fetched 0, the raising
    answer loses only its own tests; each out of the assignment's points."""
    assert {student: float(row["raw_score"]) for student, row in cycle.grades.items()} == \
        {student: sum(scores.values()) for student, scores in cycle.expected.items()}
    assert {float(row["max_score"]) for row in cycle.grades.values()} == {cycle.maximum}


def test_a_late_submission_loses_the_late_penalty_in_the_export(cycle):
    """carol, seconds late, loses a day's penalty (hub/formgrader/nbgrader_config.py); nobody else loses anything."""
    penalties = {student: float(row["late_submission_penalty"]) for student, row in cycle.grades.items()}
    raw = float(cycle.grades[LATE]["raw_score"])
    assert raw > 0 and penalties == {student: pytest.approx(LATE_PENALTY * raw) if student == LATE else 0
                                     for student in STUDENTS}
    assert {student: float(row["score"]) for student, row in cycle.grades.items()} == \
        {student: pytest.approx(float(row["raw_score"]) - penalties[student])
         for student, row in cycle.grades.items()}


def test_each_student_fetches_feedback_with_their_score(cycle):
    """Each notebook's feedback shows its score, net of any late penalty."""
    for student, scores in cycle.expected.items():
        for notebook, score in scores.items():
            shown = re.search(rf"{notebook} \(Score: ([\d.]+) / [\d.]+\)", cycle.feedback[student][notebook])
            net = score * (1 - LATE_PENALTY) if student == LATE else score
            assert shown and float(shown[1]) == pytest.approx(net), (student, notebook)


def test_a_second_submission_replaces_the_first(cycle):
    """alice submitted the notebook as fetched, then her answers: the later one is graded (full marks) and only it
    gets feedback."""
    first, second = cycle.submissions[RESUBMITS]
    assert first["timestamp"] < second["timestamp"]
    assert [first["has_local_feedback"], second["has_local_feedback"]] == [False, True]
    assert float(cycle.grades[RESUBMITS]["score"]) == sum(cycle.expected[RESUBMITS].values()) > 0


def test_a_submission_after_the_due_date_is_late(cycle):
    with Gradebook(f"sqlite:///{cycle.course / 'gradebook.db'}") as gradebook:
        late = {student: gradebook.find_submission(ASSIGNMENT, student).total_seconds_late > 0 for student in STUDENTS}
    assert late == {student: student == LATE for student in STUDENTS}


def test_submissions_go_by_the_hub_user_and_belong_to_their_unix_user(cycle):
    """Each student's server runs as their own Unix user (jupyter-NAME on TLJH), yet nbgrader knows them by their
    hub name; what they hand in is theirs on disk."""
    inbound = cycle.exchange / COURSE / "inbound"
    handed_in = [path for path in inbound.iterdir() if path.name not in cycle.forged]
    assert sorted(path.name.split("+")[0] for path in handed_in) == sorted([*STUDENTS, RESUBMITS])
    assert all(path.stat().st_uid == cycle.unix.uid(path.name.split("+")[0]) for path in handed_in)
    assert sorted(path.name for path in (cycle.course / "submitted").iterdir()) == sorted(STUDENTS)


def test_a_forged_submission_is_refused_and_the_real_work_kept(cycle):
    """The folders forged in the inbound (forge_submissions), each later than any real submission: under another's
    name, with links to the solutions, with no time in its name, with an earlier time than its files. The
    collection refuses each, says why in the formgrader's log, and goes on: alice keeps her full marks, bob his own
    work's 0, and carol, late, her penalty (test_a_late_submission_loses_the_late_penalty_in_the_export)."""
    names = {what: name for name, what in cycle.forged.items()}
    refusals = {name: line for name in cycle.forged for line in cycle.collected.splitlines() if name in line}
    unix = cycle.unix.prefix
    assert f"belongs to {unix}bob, not {unix}alice" in refusals[names["under another name"]]
    assert "is a symbolic link" in refusals[names["links"]]
    assert "has no submission time" in refusals[names["no time"]]
    assert "but its files were last changed at" in refusals[names["an earlier time"]]
    assert all(line.startswith("[ERROR] Refused") for line in refusals.values())
    assert float(cycle.grades["alice"]["raw_score"]) == sum(cycle.expected["alice"].values()) > 0
    assert float(cycle.grades[CULPRIT]["raw_score"]) == 0
    assert not any(path.is_symlink() for path in (cycle.course / "submitted").rglob("*"))


def test_students_cannot_see_each_others_files(cycle):
    """As carol's Unix user: her own home opens; alice's home, the list of the inbound (where submissions are
    named, so unguessable) and the course directory (solutions, gradebook) do not."""
    probe = ("import json, os, sys\n"
             "tried = {}\n"
             "for path in sys.argv[1:]:\n"
             "    try:\n"
             "        os.listdir(path)\n"
             "        tried[path] = 'listed'\n"
             "    except PermissionError:\n"
             "        tried[path] = 'denied'\n"
             "print(json.dumps(tried))\n")
    own, other = cycle.unix.homes / "carol", cycle.unix.homes / "alice"
    paths = [own, other, other / ASSIGNMENT, cycle.exchange / COURSE / "inbound", cycle.course]
    tried = json.loads(cycle.unix.run("carol", "-c", probe, *map(str, paths)))
    assert tried == {str(path): "listed" if path == own else "denied" for path in paths}


def test_checkpoints_do_not_count_toward_the_size_limit(cycle):
    """bob's assignment folder held 101 MB of checkpoints, over nbgrader's 100 MB limit: he could submit, and they
    were left out."""
    submitted = cycle.submissions[CULPRIT]
    assert submitted and not list((cycle.course / "submitted").rglob(".ipynb_checkpoints"))


def test_grading_runs_student_code_in_the_sandbox(cycle):
    """bob's notebook tries, while autograded, to read the solutions, write into the exchange and zero everyone's
    grades in the gradebook. All three fail, and every student's grades are what their answers deserve."""
    autograded = cycle.course / "autograded" / CULPRIT / ASSIGNMENT
    outputs = "\n".join(printed(cell.get("outputs", [])) for path in autograded.glob("*.ipynb")
                        for cell in nbformat.read(path, 4).cells)
    tried = re.search(r"ATTACK (\{.*\})", outputs)
    assert tried, "bob's attack did not run"
    assert all(outcome != "done" for outcome in json.loads(tried[1]).values()), tried[1]
    assert not planted(cycle.exchange).exists()
    with Gradebook(f"sqlite:///{cycle.course / 'gradebook.db'}") as gradebook:
        scores = {student: gradebook.find_submission(ASSIGNMENT, student).score for student in STUDENTS}
    assert scores == {student: sum(deserved.values()) for student, deserved in cycle.expected.items()}


def test_the_formgrader_terminal_runs_nbgrader(cycle):
    """The export ran in the formgrader's terminal (run_course): nbgrader is on its PATH, though not on the hub's."""
    assert "command not found" not in cycle.exported and "CsvExportPlugin" in cycle.exported


def test_idle_servers_are_culled(cycle):
    """The idle culler stops the server nobody uses (the only one it may see here) within a few of its rounds."""
    hub = cycle.hub
    hub.wait_until(lambda: not hub.admin("GET", f"users/{IDLE}")["servers"], "the idle server to be culled",
                   timeout=3 * CULL_IDLE_AFTER)


def test_the_config_adds_to_the_deployments(cycle):
    """The deployment's own service and role (the test's, whose token did all the admin calls above) are still
    there, beside the formgrader and the idle culler."""
    assert set(cycle.hub.admin("GET", "services")) == {"e2e-test", COURSE, "attnlab-idle-culler"}


def test_a_student_cannot_open_the_formgrader_nor_another_students_server(cycle):
    hub = cycle.hub
    hub.call("GET", f"/services/{COURSE}/formgrader/api/status", INSTRUCTOR)
    for student in STUDENTS:
        hub.call("GET", f"/services/{COURSE}/formgrader/api/status", student, expect=403)
        for other in STUDENTS.keys() - {student}:
            hub.call("GET", f"/user/{other}/api/status", student, expect=403)


def test_only_the_roster_logs_in(cycle):
    assert cycle.hub.login("mallory")[0].status_code == 403
    assert cycle.hub.login("bob")[0].status_code == 302


def test_only_instructors_see_the_formgrader(cycle):
    """The hub's Services menu lists the formgrader for the instructor only. No formgrader in any user's server (the
    service is the formgrader), and no course list in a student's (it only lists formgraders); the instructor's
    course list leads to the service."""
    hub = cycle.hub
    link = f'href="/services/{COURSE}/"'
    assert {user: link in hub.login(user)[1].get(f"{hub.url}/hub/home", timeout=SLOW).text
            for user in [INSTRUCTOR, *STUDENTS]} == {user: user == INSTRUCTOR for user in [INSTRUCTOR, *STUDENTS]}
    for student in STUDENTS:
        hub.call("GET", f"/user/{student}/formgrader/api/status", student, expect=404)
        hub.call("GET", f"/user/{student}/formgraders", student, expect=404)
        lab = hub.call("GET", f"/user/{student}/lab", student).text
        disabled = re.search(r'"disabledExtensions": (\[.*?\])', lab)[1]
        assert all(f'"@jupyter/nbgrader:{plugin}"' in disabled for plugin in ("formgrader", "course-list"))
    hub.call("GET", f"/user/{INSTRUCTOR}/formgrader/api/status", INSTRUCTOR, expect=404)
    courses = hub.call("GET", f"/user/{INSTRUCTOR}/formgraders", INSTRUCTOR).json()["value"]
    assert [(course["course_id"], course["kind"]) for course in courses] == [(COURSE, "jupyterhub")]
    assert f"/services/{COURSE}/" in courses[0]["url"]


def test_the_exchange_has_the_permissions_nbgrader_needs(cycle):
    """Writable by all and sticky (the hub's config); nbgrader's own modes below it."""
    def mode(path):
        return oct(path.stat().st_mode & 0o7777)
    folder = cycle.exchange / COURSE
    assert [mode(cycle.exchange), mode(folder / "outbound"), mode(folder / "inbound"), mode(folder / "feedback")] == \
        ["0o1777", "0o755", "0o2733", "0o711"]


# The collection's checks, each kind of thing a submission must not hold, without a hub (a second each).
SUBMISSION_HOLDING = {
    "a link": (lambda folder: (folder / "a.ipynb").symlink_to("/etc/passwd"), "a.ipynb is a symbolic link"),
    "a named pipe": (lambda folder: os.mkfifo(folder / "pipe"), "pipe is neither a file nor a folder"),
    "another user's file": (lambda folder: os.chown(folder / "answers.ipynb", 65534, 65534),
                            f"answers.ipynb belongs to {pwd.getpwuid(65534).pw_name}, not root"),
    "too much": (lambda folder: os.truncate(folder / "answers.ipynb", 10**6), "larger than"),
    "folders too deep": (lambda folder: (folder / Path(*["deeper"] * 20)).mkdir(parents=True), "nested more than"),
}


@pytest.mark.parametrize("holding", SUBMISSION_HOLDING)
def test_a_submission_holding_anything_but_its_students_files_is_refused(tmp_path, monkeypatch, holding):
    if os.geteuid() != 0:
        pytest.skip("gives a file to another user: run as root")
    monkeypatch.syspath_prepend(str(ROOT / "hub"))
    from attnlab_nbgrader import CheckedCopy, Refused
    submission = tmp_path / "alice+part0_foundations+2026-01-01 00:00:00 UTC"
    submission.mkdir()
    (submission / "answers.ipynb").write_text("{}")
    make, reason = SUBMISSION_HOLDING[holding]
    make(submission)
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(Refused, match=re.escape(reason)):
            CheckedCopy(owner=0, budget=10**5).copy(folder, submission.name, tmp_path / "copy")
    finally:
        os.close(folder)


@pytest.mark.parametrize("content, reason", [(None, "it has no timestamp.txt"), ("", "holds no time"),
                                             ("soon", "holds no time")])
def test_a_submission_without_a_time_to_grade_lateness_by_is_refused(tmp_path, monkeypatch, content, reason):
    """nbgrader counts a submission with no readable timestamp.txt as on time, whenever it came."""
    monkeypatch.syspath_prepend(str(ROOT / "hub"))
    from attnlab_nbgrader import OwnerVerifiedCollect, Refused
    if content is not None:
        (tmp_path / "timestamp.txt").write_text(content)
    with pytest.raises(Refused, match=reason):
        OwnerVerifiedCollect.stated_time(tmp_path)
