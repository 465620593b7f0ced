"""The class hub end to end: hub/jupyterhub_config.py on a real JupyterHub at 127.0.0.1 (free ports, temporary
directories), with one instructor and three students going through part0_foundations.

The instructor works in the formgrader (a hub service) through its HTTP API; each student works in their own
single-user server through its HTTP API (nbgrader's assignment list, Jupyter's contents), as the JupyterLab
extensions do. One module-wide run does the whole cycle; each test below checks one thing against it, while the
hub still runs. Run alone with `pytest -m hub`.
"""
import contextlib
import csv
import getpass
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import nbformat
import psutil
import pytest
import requests
from nbgrader.api import Gradebook

from course import ROOT, finish_nbgrader, scratch_course, start_nbgrader
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
# The due date passes just before carol submits.
LATE = "carol"
SLOW = 300  # seconds: the longest any one request may take (an autograde runs a whole notebook)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# What this machine needs and a class does not: any roster name logs in, servers are local processes with a home
# folder each, everything runs as root, and two busy cores start servers slowly. The test's own service holds the
# token that creates users' tokens and starts their servers.
TEST_CONFIG = """
load_subconfig({hub_config!r})
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {homes!r} + "/{{username}}"
c.Spawner.args = ["--allow-root"]
c.JupyterHub.services[0]["command"].append("--allow-root")
c.JupyterHub.services[0]["environment"].update(OMP_NUM_THREADS="1", ATTNLAB_PROGRESS="0")  # the autograding kernels
c.JupyterHub.services[0]["timeout"] = 180  # or the hub gives up on its formgrader after 30 s, and exits
c.Spawner.http_timeout = c.Spawner.start_timeout = 180
c.JupyterHub.cleanup_servers = False  # the test stops them, all at once: faster than the hub, one by one
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}  # a spawn request answers at once; the test polls
c.JupyterHub.ip, c.JupyterHub.port, c.JupyterHub.hub_port = "127.0.0.1", {port}, {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
# The pure-Python proxy cuts requests off after 20 s by default; the formgrader's autograding takes longer.
c.ConfigurableHTTPProxy.command = [{proxy!r}, "--timeout={slow_ms}", "--proxy-timeout={slow_ms}"]
c.JupyterHub.services.append({{"name": "e2e-test", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "e2e-test", "services": ["e2e-test"],
                                "scopes": ["admin:users", "admin:servers", "tokens"]}})
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

    def adopt(self, process):
        self.known[process.pid] = psutil.Process(process.pid)

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


def start_hub(tmp, course, exchange):
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
        hub_config=str(ROOT / "hub" / "jupyterhub_config.py"), homes=str(tmp / "homes"), port=port, hub_port=hub_port,
        proxy_api_port=proxy_api_port, proxy=str(bin_dir / "configurable-http-proxy"), slow_ms=SLOW * 1000,
        token=token))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(state),
           "ATTNLAB_COURSE_DIR": str(course), "ATTNLAB_EXCHANGE": str(exchange), "ATTNLAB_ROSTER": str(roster),
           "ATTNLAB_GRADER_USER": getpass.getuser(), "ATTNLAB_FORMGRADER_PORT": str(formgrader_port),
           "ATTNLAB_SINGLEUSER": str(bin_dir / "jupyterhub-singleuser")}
    log = state / "jupyterhub.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=state, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    return Hub(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hub_port}", token, log, Processes(process))


@dataclass
class Cycle:
    hub: Hub
    course: Path
    exchange: Path
    expected: dict  # student -> notebook -> the score their answers deserve
    maximum: float  # the assignment's points, written answers included
    grades: dict  # student -> their row of nbgrader's exported CSV
    feedback: dict  # student -> notebook -> the HTML feedback they fetched
    submissions: dict  # student -> their submissions, as their assignment list shows them at the end


def answer_and_submit(hub, course, student, answer):
    """The student fetches the assignment in their server, writes their answers into each notebook and submits.
    Returns notebook -> the score those answers deserve."""
    assert "released" in hub.assignments(student)
    fetched = hub.assignments(student, "fetch")["fetched"]
    if student == RESUBMITS:
        hub.assignments(student, "submit")
    deserved = {}
    for index, notebook in enumerate(fetched["notebooks"]):
        model = hub.contents(student, notebook["path"])
        solution = nbformat.read(course / "solutions" / ASSIGNMENT / f"{notebook['notebook_id']}.ipynb", 4)
        submission, deserved[notebook["notebook_id"]] = answer(solution, nbformat.from_dict(model["content"]),
                                                               first=index == 0)
        hub.contents(student, notebook["path"], {"type": "notebook", "format": "json", "content": submission})
    assert "submitted" in hub.assignments(student, "submit")
    return deserved


def feedback_path(notebook):
    """Where nbgrader put a notebook's feedback, as a contents API path."""
    return quote(Path(notebook["local_feedback_path"]).as_posix())


def points(course):
    """The assignment's points, from the source notebooks: every graded cell, autograded or written."""
    return sum(cell.metadata.nbgrader["points"] for path in (course / "solutions" / ASSIGNMENT).glob("*.ipynb")
               for cell in nbformat.read(path, 4).cells if cell.metadata.get("nbgrader", {}).get("grade"))


def run_course(hub, course, exchange):
    # The servers start while the hub still waits for its formgrader, and the instructor releases meanwhile.
    hub.wait_until(lambda: hub.responds(f"{hub.api}/hub/api/"), "the hub")
    users = [INSTRUCTOR, *STUDENTS]
    for user in users:
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
            due = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
            hub.formgrader("PUT", f"assignment/{ASSIGNMENT}", json={"duedate_notimezone": due,
                                                                   "duedate_timezone": "UTC"})
        expected[student] = answer_and_submit(hub, course, student, answer)

    hub.formgrader("POST", f"assignment/{ASSIGNMENT}/collect")
    for student in STUDENTS:
        hub.formgrader("POST", f"submission/{ASSIGNMENT}/{student}/autograde")
    export = start_nbgrader(course, "export", "--to", "grades.csv")  # its slow start-up overlaps the feedback
    hub.processes.adopt(export[0])
    hub.formgrader("POST", f"assignment/{ASSIGNMENT}/generate_feedback")
    hub.formgrader("POST", f"assignment/{ASSIGNMENT}/release_feedback")
    feedback, submissions = {}, {}
    for student in STUDENTS:
        submissions[student] = hub.assignments(student, "fetch_feedback")["submitted"]["submissions"]
        latest = submissions[student][-1]["notebooks"]
        feedback[student] = {notebook["notebook_id"]: hub.contents(student, feedback_path(notebook))["content"]
                             for notebook in latest}
    finish_nbgrader(export)
    with open(course / "grades.csv") as table:
        grades = {row["student_id"]: row for row in csv.DictReader(table) if row["assignment"] == ASSIGNMENT}
    return Cycle(hub, course, exchange, expected, points(course), grades, feedback, submissions)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hub")
    course, exchange = scratch_course(tmp), tmp / "exchange"
    hub = start_hub(tmp, course, exchange)
    try:
        yield run_course(hub, course, exchange)
    finally:
        hub.processes.stop()


def test_each_student_scores_what_their_answers_deserve(cycle):
    """The exported grades: the full solution gets every autograded point, the notebook as fetched 0, the raising
    answer loses only its own tests; each out of the assignment's points."""
    assert {student: float(row["score"]) for student, row in cycle.grades.items()} == \
        {student: sum(scores.values()) for student, scores in cycle.expected.items()}
    assert {float(row["max_score"]) for row in cycle.grades.values()} == {cycle.maximum}


def test_each_student_fetches_feedback_with_their_score(cycle):
    for student, scores in cycle.expected.items():
        for notebook, score in scores.items():
            shown = re.search(rf"{notebook} \(Score: ([\d.]+) / [\d.]+\)", cycle.feedback[student][notebook])
            assert shown and float(shown[1]) == score, (student, notebook)


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


def test_submissions_go_by_the_hub_user(cycle):
    """Every server runs as the same system user here (as in containers): nbgrader must still tell students
    apart by their hub name."""
    inbound = sorted(path.name.split("+")[0] for path in (cycle.exchange / COURSE / "inbound").iterdir())
    assert inbound == sorted([*STUDENTS, RESUBMITS])
    assert sorted(path.name for path in (cycle.course / "submitted").iterdir()) == sorted(STUDENTS)


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
