"""nbgrader in every user's server on the class hub: the course's exchange, and the user's identity."""
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (nbgrader provides get_config)

HUB_DIR = str(Path(__file__).resolve().parent.parent)  # the hub's plugins: attnlab_nbgrader.py
if HUB_DIR not in sys.path:  # nbgrader loads this file again for each action
    sys.path.insert(0, HUB_DIR)

c.CourseDirectory.course_id = "attnlab"
c.Exchange.root = os.environ["ATTNLAB_EXCHANGE"]  # set by the hub (jupyterhub_config.py, z2jh-values.yaml)
# Courses and access come from the user's hub groups (nbgrader-attnlab, formgrade-attnlab).
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
# Submissions and feedback go by the hub user's name. nbgrader would otherwise take the system user's (jupyter-NAME
# on The Littlest JupyterHub, one name for all where every server runs as one account), except for `jovyan`. A
# student can change it in their own terminal: the formgrader's collect checks that the files are theirs.
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
# The 100 MB limit on a submission counts what is handed in, not Jupyter's checkpoints, which are left out.
c.ExchangeFactory.submit = "attnlab_nbgrader.SubmitWithoutCheckpoints"
