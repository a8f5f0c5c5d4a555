"""The report's reproducibility table: what each run's env.json says about how to get the same result again."""

from nnlab.report import blocks as doc

COLUMNS = [
    "run",
    "seed",
    "git commit",
    "dirty",
    "experiment module",
    "device",
    "tensorflow",
    "keras",
    "numpy",
    "python",
    "command",
]
NOT_REPRODUCIBLE = "not reproducible from the commit"


def table(runs):
    """One row per run from its env.json: versions, device, seed, git commit and whether the tree was dirty."""
    rows = []
    for run in runs:
        env = run.env
        if not env:
            rows.append([run.run_id, doc.Cell("no env.json", "missing")] + [""] * (len(COLUMNS) - 2))
            continue
        rows.append(
            [
                run.run_id,
                doc.plain(env.get("seed", run.config.get("seed"))),
                commit(env) or "not a git checkout",
                dirty(env.get("git_dirty")),
                module(env),
                device(env),
                doc.plain(env.get("tensorflow")),
                doc.plain(env.get("keras")),
                doc.plain(env.get("numpy")),
                doc.plain(env.get("python")),
                _command(env.get("command")),
            ]
        )
    return doc.Table(
        COLUMNS,
        rows,
        caption=(
            "Dirty: the git tree had uncommitted changes, so the commit alone does not reproduce the run. "
            f"Experiment module: whether the commit holds the experiment file as it ran ({NOT_REPRODUCIBLE} when "
            "the file was untracked or modified; its SHA-256 prefix identifies the source that ran)."
        ),
    )


def device(env):
    """'CPU', or 'GPU: <names>' from env.json's devices record; '' when unknown."""
    devices = env.get("devices") if isinstance(env.get("devices"), dict) else {}
    used = str(devices.get("used", ""))
    if used == "GPU":
        names = [_gpu_name(detail) for detail in _list(devices.get("gpu_details"))]
        names = [name for name in names if name] or [str(name) for name in _list(devices.get("gpus"))]
        return f"GPU: {', '.join(dict.fromkeys(names))}" if names else "GPU"
    if used and env.get("deterministic_ops"):
        return f"{used} (deterministic ops)"
    return used


def module(env):
    """Whether a recorded commit holds the experiment module as it ran (env.json's `experiment_tracked`).

    The module may live in another repository than nnlab's checkout; then its own commit is named. Runs recorded
    before nnlab wrote these fields say 'unknown': git_dirty alone never covered untracked experiment files."""
    tracked = env.get("experiment_tracked")
    digest = env.get("experiment_sha256")
    suffix = f" (sha256 {digest[:12]})" if isinstance(digest, str) and digest else ""
    if tracked is True:
        commit = env.get("experiment_commit")
        if isinstance(commit, str) and commit and commit != env.get("git_commit"):
            return doc.Cell(f"in commit {commit[:12]} of {env.get('experiment_repository') or '?'}{suffix}", "done")
        return doc.Cell(f"in the commit{suffix}", "done")
    if tracked is False:
        return doc.Cell(f"{NOT_REPRODUCIBLE}: untracked or modified{suffix}", "failed")
    return doc.Cell("unknown", "missing")


def commit(env):
    """The first 12 characters of env.json's git commit; '' when there is none (or it is not text)."""
    value = env.get("git_commit")
    return value[:12] if isinstance(value, str) else ""


def _list(value):
    return value if isinstance(value, list) else []


def dirty(value):
    if value is None:
        return doc.Cell("unknown", "missing")
    return doc.Cell("dirty", "failed") if value else doc.Cell("clean", "done")


def _gpu_name(detail):
    return str(detail.get("device_name", "")) if isinstance(detail, dict) else ""


def _command(argv):
    if isinstance(argv, list):
        return " ".join(str(part) for part in argv)[:200]
    return doc.plain(argv)
