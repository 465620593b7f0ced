"""The zoo: small pretrained models behind the explorers and the notebooks' fast path.

Each model is a checkpoint (see `attnlab.save`) beside `manifest.json`, which records for every name its
study, the arguments that built it, its config, seed, training steps, measured metrics and sha256.
`load(name)` checks the hash before trusting a file. Rebuild everything, or a part, from scratch with

    python -m attnlab.zoo rebuild [--study depth|heads] [--only NAME ...]

A study module (attnlab.depth, attnlab.heads) provides `zoo_recipes()` -> {name: kwargs} and
`build_zoo_model(**kwargs)` -> (model, metadata), where metadata holds at least seed, steps and metrics. A study
whose measurements can change without its training (heads: the baselines, the analysis) also provides
`measure_zoo_model(model, metadata)` -> metadata, and `python -m attnlab.zoo remeasure` re-measures its models in
place, in seconds each, with the weights unchanged.
"""
import functools
import hashlib
import importlib
import io
import json
import time
from dataclasses import asdict
from pathlib import Path

from ..model import load as load_checkpoint
from ..model import save as save_checkpoint

ZOO_DIR = Path(__file__).resolve().parent
MANIFEST = ZOO_DIR / "manifest.json"
STUDIES = {"depth": "attnlab.depth", "heads": "attnlab.heads"}


class ZooError(RuntimeError):
    """A zoo file is missing or is not the file the manifest describes."""


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest():
    if not MANIFEST.exists():
        return {}
    stat = MANIFEST.stat()
    return json.loads(_read(MANIFEST, stat.st_mtime_ns, stat.st_size))  # a fresh dict: callers may change it


@functools.lru_cache(maxsize=None)
def _read(path, mtime_ns, size):
    """A file's text, read once per process for as long as it is unchanged (the key holds its mtime and size)."""
    return path.read_text()


@functools.lru_cache(maxsize=None)
def _verified_bytes(path, mtime_ns, size, expected_sha256):
    """A checkpoint's bytes once its sha256 matched, kept for the process while the file is unchanged, so that an
    explorer's every slider move does not hash and read the file again. None if the hash does not match."""
    data = path.read_bytes()
    return data if hashlib.sha256(data).hexdigest() == expected_sha256 else None


def names(study=None):
    return sorted(name for name, entry in manifest().items() if study in (None, entry["study"]))


def entry(name):
    entries = manifest()
    if name not in entries:
        raise ValueError(f"no zoo model named {name!r}; the zoo has: {', '.join(sorted(entries)) or 'nothing yet'}")
    return entries[name]


def load(name, device="cpu"):
    """The pretrained model `name` and its metadata, after checking the file's sha256 against the manifest."""
    info = entry(name)
    path = ZOO_DIR / info["file"]
    rebuild = f"python -m attnlab.zoo rebuild --only {name}"
    if not path.exists():
        raise ZooError(f"zoo file {path} is missing; rebuild it with `{rebuild}`")
    stat = path.stat()
    data = _verified_bytes(path, stat.st_mtime_ns, stat.st_size, info["sha256"])
    if data is None:
        raise ZooError(f"zoo file {path} does not match its sha256 in {MANIFEST.name} (changed or corrupted); "
                       f"restore it from git, or rebuild it with `{rebuild}`")
    return load_checkpoint(io.BytesIO(data), device)  # a new model every time: a caller may change its weights


def _record(name, info):
    """Write one entry into the manifest under a lock, so that rebuilds of different models can run side by
    side (e.g. two processes with disjoint --only lists)."""
    with open(ZOO_DIR / ".manifest.lock", "w") as lock:
        try:
            import fcntl  # POSIX only; on Windows, run one rebuild at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:
            pass
        entries = manifest()
        entries[name] = info
        MANIFEST.write_text(json.dumps(dict(sorted(entries.items())), indent=1) + "\n")


def _save(name, study_name, kwargs, model, metadata, train_seconds):
    """Write one zoo model and its manifest entry."""
    path = ZOO_DIR / f"{name}.pt"  # names like "depth/icqa_2" give a folder per study
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model.cpu(), path, **metadata)
    _record(name, {"study": study_name, "file": f"{name}.pt", "kwargs": kwargs, "config": asdict(model.cfg),
                   "seed": metadata["seed"], "steps": metadata["steps"], "metrics": metadata["metrics"],
                   "train_seconds": train_seconds, "sha256": sha256(path)})  # after each model: a stop keeps the rest
    print(f"{name}: {metadata['metrics']}")


def remeasure(study):
    """Measure the study's zoo models afresh (its `measure_zoo_model`), keeping their weights and training history;
    returns the names re-measured."""
    module = importlib.import_module(STUDIES[study]) if study in STUDIES else None
    if module is None or not hasattr(module, "measure_zoo_model"):
        measured = sorted(name for name, m in STUDIES.items() if hasattr(importlib.import_module(m), "measure_zoo_model"))
        raise ValueError(f"study must be one whose measurements can be redone ({', '.join(measured)}), got {study!r}")
    names_ = names(study)
    for name in names_:
        model, metadata = load(name)
        info = entry(name)
        _save(name, study, info["kwargs"], model, module.measure_zoo_model(model, metadata), info["train_seconds"])
    return names_


def rebuild(study=None, only=None, progress=True):
    """Train the zoo's models from scratch and rewrite their manifest entries; returns the names rebuilt."""
    if study is not None and study not in STUDIES:
        raise ValueError(f"study must be one of {sorted(STUDIES)}, got {study!r}")
    recipes = {}  # every model to build, {name: (study, kwargs)}, so that a bad --only fails before any training
    for study_name in [study] if study else sorted(STUDIES):
        module = importlib.import_module(STUDIES[study_name])
        recipes.update({name: (study_name, kwargs) for name, kwargs in module.zoo_recipes().items()})
    unknown = set(only or ()) - set(recipes)
    if unknown:
        raise ValueError(f"no zoo recipe named {', '.join(sorted(unknown))}; the recipes: {', '.join(sorted(recipes))}")
    built = []
    for name, (study_name, kwargs) in recipes.items():
        if only and name not in only:
            continue
        module = importlib.import_module(STUDIES[study_name])
        start = time.perf_counter()
        model, metadata = module.build_zoo_model(progress=progress, **kwargs)
        _save(name, study_name, kwargs, model, metadata, round(time.perf_counter() - start, 1))
        built.append(name)
    return built
