"""Which solution notebooks call which public function or class of the library, read from their code cells.

A notebook's name is its part and number: "0.1" for part0's first, "I.4", "II.2". A use is
an attribute of an imported attnlab module (`depth.models_by_depth`, `bl.ridge` after `import baselines as bl`)
or a name imported from one (`from attnlab.patching import patch`), resolved to the module that defines it.

    python tests/notebook_usage.py     # prints the line each docstring should end with
"""
import ast
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import attnlab

ROOT = Path(__file__).resolve().parent.parent
PARTS = {"part0_foundations": "0.", "part1_depth": "I.", "part2_heads": "II."}
LINE = re.compile(r"(?:^|\n)\s*Notebooks: ([^\n]*)\s*$")  # the docstring's last line


def notebook_name(path):
    return PARTS[path.parent.name] + str(int(path.name[:2]))


def public_objects():
    """{qualified name: object} for every public function and class defined in an attnlab module."""
    found = {}
    for info in pkgutil.walk_packages(attnlab.__path__, "attnlab."):
        if info.name.split(".")[-1].startswith("_"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and obj.__module__ == info.name):
                found[f"{info.name}.{name}"] = obj
    return found


def _resolve(module_name, attribute):
    """The defining module's qualified name of module_name.attribute, or None if it is not the library's."""
    try:
        obj = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        return None
    if inspect.ismodule(obj) or not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return None
    module = getattr(obj, "__module__", "") or ""
    return f"{module}.{obj.__name__}" if module.startswith("attnlab") else None


def uses(path):
    """The qualified names of the library objects a notebook's code cells use."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    # IPython magics (%pip, !ls) are not Python: each becomes a `pass` at its own indentation.
    source = "\n".join("".join(c["source"]) for c in cells)
    tree = ast.parse(re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M))
    modules, names = {}, {}  # alias -> module name; name -> qualified object
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("attnlab"):
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "attnlab"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("attnlab"):
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                try:
                    importlib.import_module(qualified)
                    modules[alias.asname or alias.name] = qualified
                except ImportError:
                    names[alias.asname or alias.name] = _resolve(node.module, alias.name)
    used = {name for name in names.values() if name}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            used.add(_resolve(modules[node.value.id], node.attr))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            # attnlab.tasks.depth.X and the like, written out in full
            parts = []
            value = node
            while isinstance(value, ast.Attribute):
                parts.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in modules:
                used.add(_resolve(".".join([modules[value.id], *parts[:-1]]), parts[-1]))
    return used - {None}


def usage():
    """{qualified name: sorted notebook names} for every public library object some notebook uses."""
    by_object = {}
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for name in uses(path):
            by_object.setdefault(name, []).append(notebook_name(path))
    return by_object


def documented(obj):
    """The notebooks an object's docstring names on its last line ("Notebooks: I.2, II.3"), or []."""
    match = LINE.search(inspect.getdoc(obj) or "")
    return match.group(1).split(", ") if match else []


if __name__ == "__main__":
    for name, notebooks in sorted(usage().items()):
        print(f"{name}: Notebooks: {', '.join(notebooks)}")
