"""nbgrader in the formgrader (a hub service): the course's own nbgrader_config.py, in the directory it runs in,
sets the course and how autograding runs student code (in the course's sandbox); this adds what the hub changes:
the exchange it releases to and collects from, who may hand in under which name, and the late penalty."""
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides get_config)

HUB_DIR = str(Path(__file__).resolve().parent.parent)  # the hub's plugins: attnlab_nbgrader.py
if HUB_DIR not in sys.path:  # nbgrader loads this file again for each action
    sys.path.insert(0, HUB_DIR)

c.Exchange.root = os.environ["ATTNLAB_EXCHANGE"]  # set by the hub (jupyterhub_config.py, z2jh-values.yaml)
# A submission is collected only if its files belong to the Unix user of the student it is named after: every
# student can write into the exchange's inbound, so a name alone proves nothing. Set by the hub; empty where every
# server runs as one user (Kubernetes), and then nothing is checked (hub/README.md).
c.ExchangeFactory.collect = "attnlab_nbgrader.OwnerVerifiedCollect"
c.OwnerVerifiedCollect.owner_template = os.environ.get("ATTNLAB_STUDENT_UNIX_USER", "jupyter-{student}") or None
# The course's late policy: a late notebook loses this fraction of its score per day, each day begun.
c.AssignLatePenalties.plugin_class = "attnlab_nbgrader.LatePenalty"
c.LatePenalty.per_day = 0.1
# On a hub the grader's rights reach every student's work: grade in the sandbox or not at all.
c.SandboxedExecute.require_sandbox = True
