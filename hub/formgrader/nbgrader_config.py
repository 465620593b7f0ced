"""nbgrader in the formgrader (a hub service): the course's own nbgrader_config.py, in the directory it runs in,
sets the course; this adds the exchange it releases to and collects from."""
import os

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.Exchange.root = os.environ["ATTNLAB_EXCHANGE"]  # set by the hub (jupyterhub_config.py, z2jh-values.yaml)
