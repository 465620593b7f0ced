"""The formgrader's Jupyter server: its terminal keeps the PATH the hub gives the service (with nbgrader on it).
A terminal is otherwise a login shell, which on Debian and Ubuntu resets PATH from /etc/profile: `nbgrader export`
would be "command not found"."""
c = get_config()  # noqa: F821 (Jupyter provides get_config)

c.ServerApp.terminado_settings = {"shell_command": ["/bin/bash"]}
