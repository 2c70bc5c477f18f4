"""Where a module's files come from: a local folder, or a git repository cloned by ``zplan init``.

``source = "./modules/x"`` is a folder relative to the calling module's folder.
``source = "git::URL//sub/dir?ref=v1.2"`` is a repository: ``zplan init`` clones it
into ``.zplan/modules/`` and writes the commit ``ref`` resolved to into the lock file
``.zplan.lock.hcl``; planning reads only that checkout, so a plan never changes
because a branch moved. ``zplan init -upgrade`` resolves the refs again.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path

from zplan import diags
from zplan.config.model import ModuleCall, ModuleInstance

LOCK_FILE = ".zplan.lock.hcl"
INSTALL_DIR = Path(".zplan") / "modules"


@dataclass(frozen=True)
class GitSource:
    url: str
    subdir: str
    ref: str  # "" = the repository's default branch

    @property
    def lock_key(self) -> str:
        return f"{self.url}?ref={self.ref}" if self.ref else self.url


def parse_git(source: str) -> GitSource | None:
    """``git::https://host/repo.git//sub?ref=v1`` -> its parts; None for a local path."""
    if not source.startswith("git::"):
        return None
    rest = source[len("git::") :]
    rest, _, query = rest.partition("?")
    ref = next((v for k, _, v in (p.partition("=") for p in query.split("&")) if k == "ref"), "")
    scheme, sep, path = rest.partition("://")
    path, _, subdir = path.partition("//")
    return GitSource(f"{scheme}{sep}{path}", subdir.strip("/"), ref)


def module_dir(call: ModuleCall, caller_dir: Path, root: Path) -> Path:
    """The folder holding the module's files, or a diagnostic at the ``source`` line."""
    git = parse_git(call.source)
    if git is None:
        if not call.source.startswith(("./", "../", "/")):
            raise diags.fail(
                f'module "{call.name}": source "{call.source}" is neither a local path nor a git source',
                'write "./modules/NAME" (relative to this file\'s folder) or "git::https://HOST/REPO.git//SUBDIR?ref=TAG"',
                call.source_range,
            )
        folder = (caller_dir / call.source).resolve()
    else:
        commit = read_lock(root).get(git.lock_key)
        checkout = root / INSTALL_DIR / _checkout_name(git)
        if commit is None or _checked_out(checkout) != commit:
            raise diags.fail(
                f'module "{call.name}": {call.source} is not installed',
                "run `zplan init` to clone it into .zplan/modules and pin its commit in " + LOCK_FILE,
                call.source_range,
            )
        folder = checkout / git.subdir if git.subdir else checkout
    if not folder.is_dir() or not any(folder.glob("*.zp.hcl")):
        raise diags.fail(
            f'module "{call.name}": source {call.source} holds no *.zp.hcl files',
            f"looked in {folder}; check the path (relative to the folder of the calling file)",
            call.source_range,
        )
    return folder


def relative_folder(inst: ModuleInstance) -> str:
    """``path.module``: the folder of ``inst`` relative to the project folder, as Terraform gives it
    ("." for the root, "modules/x" for ``./modules/x``). Spelt by the sources that lead there, never
    by where links point nor by this machine's folders, so a value built from it is the same on
    every machine that checks the project out."""
    if inst.call is None:
        return "."
    git = parse_git(inst.call.source)
    if git is not None:
        folder = posixpath.join(INSTALL_DIR.as_posix(), _checkout_name(git), git.subdir)
    else:
        folder = posixpath.join(relative_folder(inst.parent), inst.call.source)
    return posixpath.normpath(folder)


def _checkout_name(git: GitSource) -> str:
    """One folder per repository and ref: a new pinned commit is checked out in place, so the
    step code keeps its path and a plan names the definitions that changed."""
    from zplan.hashing import hash_value

    return hash_value([git.url, git.ref])[:16]


def _checked_out(checkout: Path) -> str | None:
    """The commit a checkout holds (its detached HEAD), read without running git."""
    try:
        return (checkout / ".git" / "HEAD").read_text().strip()
    except OSError:
        return None


# -- the lock file ---------------------------------------------------------------------------------


def read_lock(root: Path) -> dict[str, str]:
    """lock key (url?ref=REF) -> pinned commit."""
    path = root / LOCK_FILE
    if not path.is_file():
        return {}
    from zplan.config import hcl

    body = hcl.parse_file(path)
    out = {}
    for block in body.blocks:
        commit = block.attributes.get("commit")
        if block.type == "module" and len(block.labels) == 1 and commit is not None:
            out[block.labels[0]] = str(commit.expr.static_value())
    return out


def write_lock(root: Path, pins: dict[str, str]) -> None:
    from zplan.fsutil import atomic_write_text

    lines = ["# Written by `zplan init`: the commit each git module source is pinned to. Commit this file.", ""]
    for key in sorted(pins):
        lines += [f"module {json.dumps(key)} {{", f"  commit = {json.dumps(pins[key])}", "}", ""]
    atomic_write_text(root / LOCK_FILE, "\n".join(lines))


# -- installing (zplan init) -----------------------------------------------------------------------


def install(git: GitSource, root: Path, pins: dict[str, str], upgrade: bool = False) -> Path:
    """Clone ``git`` at its pinned commit (or resolve its ref and pin it) into .zplan/modules."""
    commit = None if upgrade else pins.get(git.lock_key)
    if commit is None:
        commit = _resolve_ref(git)
    import shutil

    target = root / INSTALL_DIR / _checkout_name(git)
    if not target.is_dir():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _git(["clone", "-q", "--no-checkout", git.url, str(tmp)], git)
        tmp.rename(target)
    if _checked_out(target) != commit:
        _git(["-C", str(target), "fetch", "-q", "--force", "--tags", "origin"], git)
        _git(["-C", str(target), "checkout", "-q", "--force", "--detach", commit], git)
    pins[git.lock_key] = commit
    return target


def _resolve_ref(git: GitSource) -> str:
    out = _git(["ls-remote", git.url, git.ref or "HEAD"], git)
    lines = [line.split() for line in out.splitlines() if line.strip()]
    # a tag annotated: prefer the commit it points to (^{})
    peeled = [parts[0] for parts in lines if parts[1].endswith("^{}")]
    if peeled or lines:
        return (peeled or [lines[0][0]])[0]
    if len(git.ref) == 40 and all(c in "0123456789abcdef" for c in git.ref):
        return git.ref  # a commit id
    raise diags.fail(f"git module {git.url}: no ref {git.ref!r}", "check the ?ref= of the module source (a tag, branch or commit)")


def _git(args: list[str], git: GitSource) -> str:
    import subprocess

    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise diags.fail(f"git module {git.url}: cannot run git", str(exc)) from None
    if proc.returncode != 0:
        raise diags.fail(f"git module {git.url}: git {next(a for a in args if not a.startswith('-') and '/' not in a)} failed", proc.stderr.strip()[-500:] or "see the git output above")
    return proc.stdout


def install_all(root: Path, upgrade: bool = False) -> list[str]:
    """``zplan init``: clone every git module the project calls (at any depth) and pin
    its commit in the lock file; returns a line per module installed."""
    from zplan.config import loader

    if not loader.config_files(root):
        return []
    pins = read_lock(root)
    done: list[str] = []
    seen: set[Path] = set()
    pending = [(root, loader.load(root))]
    while pending:
        folder, config = pending.pop()
        for call in config.modules.values():
            git = parse_git(call.source)
            if git is not None:
                checkout = install(git, root, pins, upgrade)
                child = checkout / git.subdir if git.subdir else checkout
                done.append(f"{call.source} at {pins[git.lock_key][:12]}")
            else:
                child = module_dir(call, folder, root)
            if child.resolve() not in seen and child.is_dir() and any(child.glob("*.zp.hcl")):
                seen.add(child.resolve())
                pending.append((child, loader.load(child)))
    if pins != read_lock(root) or (done and not (root / LOCK_FILE).exists()):
        write_lock(root, pins)
    return done
