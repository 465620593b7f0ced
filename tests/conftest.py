import os

# Tests never draw progress bars and always use one CPU thread (the library default), whatever the shell says.
os.environ["ATTNLAB_PROGRESS"] = "0"
os.environ.setdefault("ATTNLAB_DEVICE", "cpu")
