"""Development mode: serve an unbuilt source tree the way a build would be served, minus the
guarantees only a build gives.

A build's files are content-addressed, so they are served ``immutable``; source files change
under the developer's hands, so here every response is revalidated (``no-cache`` + ETag, a
304 when unchanged) and a file is re-read when its mtime or size changes. Templates get the
plain names (``/static/css/app.css``), no SRI (nothing to pin) and no preloads.

Development mode needs two switches: ``StaticAssets(dir, development=True)`` in the code and
``PERF_MIDDLEWARE_DEVELOPMENT=1`` in the environment of the process. A forgotten keyword
deployed to production (where the variable is not set) is ignored with a warning, so
production keeps serving its build, or fails at start-up when there is none.
"""

from __future__ import annotations

import os
import stat

from asset_pipeline.manifest import ManifestEntry
from perf_middleware.static.config import StaticConfig, safe_relative_path
from perf_middleware.static.files import StaticFile, TableBuilder
from perf_middleware.static.table import plain_file

ENV_FLAG = "PERF_MIDDLEWARE_DEVELOPMENT"


def development_allowed() -> bool:
    """True when the process environment opts in to development mode."""
    return os.environ.get(ENV_FLAG, "").strip().lower() in ("1", "true", "yes", "on")


class SourceTree:
    """URL path below the prefix -> StaticFile, built on first use and whenever the file's
    (mtime, size) changes; hidden files and directories (``.env``, ``.git``) are never served."""

    __slots__ = ("_files", "config", "root")

    def __init__(self, directory: str | os.PathLike[str], config: StaticConfig) -> None:
        self.root = os.path.realpath(directory)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(
                f"StaticAssets(development=True): {directory} is not a directory. "
                "HINT: pass the source directory the build reads (e.g. 'static')."
            )
        self.config = config
        self._files: dict[str, tuple[tuple[int, int], StaticFile]] = {}

    def lookup(self, relative: str) -> StaticFile | None:
        if not safe_relative_path(relative) or any(
            part.startswith(".") for part in relative.split("/")
        ):
            return None
        real = os.path.realpath(os.path.join(self.root, relative))
        if not real.startswith(self.root + os.sep):
            return None
        try:
            st = os.stat(real)
        except OSError:
            self._files.pop(relative, None)
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        known = self._files.get(relative)
        if known is not None and known[0] == stamp:
            return known[1]
        file = plain_file(TableBuilder(self.root, self.config), relative)
        if file is not None:
            self._files[relative] = (stamp, file)
        return file

    def entry(self, name: str) -> ManifestEntry | None:
        """A manifest entry for templates: the plain name, no fingerprint, no SRI."""
        relative = name.lstrip("/")
        file = self.lookup(relative)
        if file is None:
            return None
        return ManifestEntry(
            path=relative,
            size=file.identity.size,
            content_type=file.media_type,
            hash="",
            integrity="",
            fingerprinted=False,
        )
