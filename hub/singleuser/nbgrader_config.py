"""nbgrader in every user's server on the class hub: the course's exchange, and the user's identity."""
import os

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "attnlab"
c.Exchange.root = os.environ["ATTNLAB_EXCHANGE"]  # set by the hub (jupyterhub_config.py, z2jh-values.yaml)
# Courses and access come from the user's hub groups (nbgrader-attnlab, formgrade-attnlab).
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
# Submissions and feedback go by the hub user's name. nbgrader would otherwise take the system user's (jupyter-NAME
# on The Littlest JupyterHub, one name for all where every server runs as one account), except for `jovyan`.
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
