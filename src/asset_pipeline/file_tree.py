"""Which files under a directory may be read: the build's SRC and the upload's DIST
(``list_files``), and the project files the font usage scan finds by glob
(``regular_files``).

Everything listed here is published, so reading must not reach past the tree:

* A symbolic link is followed only when its resolved target lies inside the tree, or
  inside a directory named in ``allow_symlink_targets``. A link to ``/etc/passwd`` or
  ``/proc/self/environ`` would otherwise become a fingerprinted asset, listed in the
  manifest and kept in the build cache; a ``url()`` that leaves SRC is refused for the
  same reason.
* A link must not publish what the ignore rules keep out: when its target lies inside
  the tree, the target's own path (relative to the tree) must pass the same ``keep``
  test, every directory on the way included. ``app.js -> .env`` or a link into an
  ignored ``node_modules/`` is refused like a link out of the tree, and so is a file
  reached through a directory link whose real path is ignored.
* Only regular files are read. A FIFO would hang the build, a device or socket has no
  content to publish, and files under ``/proc``, ``/sys`` and ``/dev`` describe the
  machine doing the build, so those are refused even when an allowed link points there.
* A link loop (a link to itself, a directory link to an ancestor) is reported instead
  of being walked until the path is too long.
* File names must be valid UTF-8: URLs, the manifest (JSON) and S3 keys cannot carry
  anything else (RFC 3986 section 2.5 percent-encodes UTF-8 octets).

Every problem found is collected, so one run lists them all.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from asset_pipeline.errors import AssetPipelineError

#: Pseudo file systems: never read, whatever the configuration allows.
SYSTEM_DIRS = (Path("/proc"), Path("/sys"), Path("/dev"))

#: ``keep(rel)`` decides what to walk: ``rel`` is ``a/b.css`` for a file, ``a/b/`` for a
#: directory. Entries it drops are never looked at, so an ignored link is no error.
Keep = Callable[[str], bool]
_FIX_LINK = "remove the link or point it at a file inside the tree."


class TreeError(AssetPipelineError):
    """Files under the tree must not be read; ``problems`` has one line per file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def shown(path: str | os.PathLike[str]) -> str:
    """A path printable on any terminal: bytes that are not UTF-8 appear as ``\\xff``."""
    return os.fspath(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _special_kind(mode: int) -> str | None:
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((text for test, text in kinds if test(mode)), "not a regular file")


def _left_out(rel: str, keep: Keep) -> bool:
    """Whether a walk guided by ``keep`` would never reach ``rel`` (``a/b.css``, or
    ``a/b/`` for a directory): it or one of its directories is dropped."""
    parts = rel.rstrip("/").split("/")
    last = len(parts) - 1
    return any(
        not keep("/".join(parts[: i + 1]) + ("/" if i < last or rel.endswith("/") else ""))
        for i in range(len(parts))
    )


def _special_problem(path: str, special: str, fix: str) -> str:
    return (
        f"{shown(path)}: {special}, not a regular file; only regular files are read. "
        f"HINT: remove it, or {fix}."
    )


def _link_words(path: str) -> str:
    """How a path reaches its target: itself a link, or through a directory link."""
    return "symbolic link to" if os.path.islink(path) else "its real path"


class _Walk:
    __slots__ = ("allowed", "hint", "keep", "problems", "real_prefix", "root")

    def __init__(
        self, root: Path, real_root: str, keep: Keep, allowed: tuple[Path, ...], hint: str
    ) -> None:
        self.root = root
        self.real_prefix = real_root.rstrip("/") + "/"
        self.keep = keep
        self.allowed = allowed
        self.hint = hint
        self.problems: list[str] = []

    def _reaches_left_out(self, path: str, rel: str, real: str, mode: int) -> bool:
        """Whether the entry at ``rel`` is really a file or directory inside the tree that
        ``keep`` drops (reached through a link); records the problem if so."""
        if not real.startswith(self.real_prefix):
            return False  # outside the tree: an allowed target, judged by _link_target
        real_rel = real[len(self.real_prefix) :] + ("/" if stat.S_ISDIR(mode) else "")
        if real_rel == rel or not _left_out(real_rel, self.keep):
            return False
        self.problems.append(
            f"{shown(path)}: {_link_words(path)} {shown(real)}, a hidden or ignored file, "
            "which must not be published under another name. HINT: remove the link, or stop "
            "ignoring its target."
        )
        return True

    def _link_target(self, path: str) -> str | None:
        """The resolved target of a link (or of a path with links on the way), or None
        after recording why it cannot be used."""
        try:
            target = os.path.realpath(path, strict=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                self.problems.append(f"{shown(path)}: symbolic link loop. HINT: {_FIX_LINK}")
            else:
                self.problems.append(
                    f"{shown(path)}: broken symbolic link to {shown(os.readlink(path))}. "
                    f"HINT: {_FIX_LINK}"
                )
            return None
        resolved = Path(target)
        if any(resolved.is_relative_to(d) for d in SYSTEM_DIRS):
            self.problems.append(
                f"{shown(path)}: {_link_words(path)} {shown(target)}, a system file that is "
                f"never read. HINT: {_FIX_LINK}"
            )
            return None
        if not any(resolved.is_relative_to(d) for d in self.allowed):
            self.problems.append(
                f"{shown(path)}: {_link_words(path)} {shown(target)} leaves "
                f"{shown(self.root)}. HINT: {self.hint}"
            )
            return None
        return target

    def walk(self, directory: str, prefix: str, ancestors: tuple[str, ...]) -> list[str]:
        """The files under ``directory`` (``ancestors[-1]`` is its resolved path)."""
        found: list[str] = []
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            path = entry.path
            try:
                is_dir = entry.is_dir()  # follows links
            except OSError:
                is_dir = False  # a link loop, reported below
            rel = prefix + entry.name + ("/" if is_dir else "")
            if not self.keep(rel):
                continue
            try:
                entry.name.encode("utf-8")
            except UnicodeEncodeError:
                self.problems.append(
                    f"{shown(path)}: the file name is not valid UTF-8. HINT: rename it; URLs, "
                    "the manifest and CDN keys need UTF-8 names."
                )
                continue
            if entry.is_symlink():
                real = self._link_target(path)
                if real is None:
                    continue
                mode = os.stat(real).st_mode
            else:
                real = os.path.join(ancestors[-1], entry.name)
                mode = entry.stat(follow_symlinks=False).st_mode
            if self._reaches_left_out(path, rel, real, mode):
                continue
            special = _special_kind(mode)
            if special is not None:
                self.problems.append(_special_problem(path, special, "leave it out with `ignore`"))
            elif stat.S_ISDIR(mode):
                if real in ancestors:
                    self.problems.append(
                        f"{shown(path)}: symbolic link loop (it points at {shown(real)}, a "
                        f"directory it is inside). HINT: {_FIX_LINK}"
                    )
                    continue
                found.extend(self.walk(path, rel, (*ancestors, real)))
            else:
                found.append(rel)
        return found


def list_files(
    root: Path,
    *,
    keep: Keep,
    allow_symlink_targets: Iterable[Path] = (),
    hint: str = "copy the file into the directory, or remove the link.",
) -> list[str]:
    """Every regular file under ``root`` that ``keep`` accepts, as sorted ``/``-separated
    names relative to it. Raises TreeError listing every entry that must not be read;
    ``hint`` is how to fix a link that leaves the tree."""
    real_root = os.path.realpath(root)
    allowed = (Path(real_root), *(Path(os.path.realpath(p)) for p in allow_symlink_targets))
    walk = _Walk(Path(root), real_root, keep, allowed, hint)
    found = walk.walk(os.fspath(root), "", (real_root,))
    if walk.problems:
        raise TreeError(walk.problems)
    return sorted(found)


def regular_files(
    paths: Iterable[Path],
    *,
    root: Path,
    allow_symlink_targets: Iterable[Path] = (),
    hint: str,
    fix_special: str,
) -> list[Path]:
    """The regular files among ``paths``, files found under ``root`` by a glob rather than
    by ``list_files``; directories are skipped. The same rules hold: a path whose real
    location (through a link, or a directory link on the way) leaves ``root`` and the
    allowed directories, a link loop, a broken link, or a special file raises TreeError
    listing each. ``fix_special`` says how to stop matching a special file."""
    real_root = os.path.realpath(root)
    allowed = (Path(real_root), *(Path(os.path.realpath(p)) for p in allow_symlink_targets))
    check = _Walk(Path(root), real_root, lambda rel: True, allowed, hint)
    found: list[Path] = []
    for path in paths:
        real = check._link_target(os.fspath(path))
        if real is None:
            continue
        mode = os.stat(real).st_mode
        special = _special_kind(mode)
        if special is not None:
            check.problems.append(_special_problem(os.fspath(path), special, fix_special))
        elif not stat.S_ISDIR(mode):
            found.append(path)
    if check.problems:
        raise TreeError(list(dict.fromkeys(check.problems)))
    return found
