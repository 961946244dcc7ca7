"""Real servers for tests: redis-server, uvicorn, moto's S3 server. Never mocks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    """A throw-away ``redis-server`` on a fixed loopback port; stop/start keep the port
    so clients can reconnect after a simulated outage.  ``extra_args`` are appended to the
    command line (e.g. ``("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")``)."""

    def __init__(self, workdir: Path, extra_args: tuple[str, ...] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed. HINT: run `make test`.")
        self.binary = binary
        self.workdir = workdir
        self.extra_args = extra_args
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "FLUSHALL"], check=True, capture_output=True
        )


class UvicornServer:
    """Runs an ASGI app under a real uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None, **config: Any) -> None:
        self.app = app
        self.port = port or free_port()
        self.config = config
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import uvicorn

        options: dict[str, Any] = {"log_level": "warning", "lifespan": "auto"}
        options.update(self.config)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            self._server = None
            self._thread = None

    def __enter__(self) -> UvicornServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MotoS3Server:
    """moto's S3/CloudFront HTTP server on a loopback port; boto3 talks to it over HTTP."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()


class NginxServer:
    """A real nginx (Debian ``nginx-light``) reverse proxy on a loopback port, configured the
    way ingress controllers configure it: Host kept, ``X-Forwarded-Host/-Proto/-Port/-For``,
    ``X-Real-IP``, ``X-Original-URI`` and a request id set on every proxied request.

    ``locations`` maps a path prefix to extra ``proxy_set_header`` lines for it;
    ``bind`` is the local address nginx connects to the upstream from (``proxy_bind``), so a
    test can tell the proxy's connections (say 127.0.0.2) from direct ones (127.0.0.1).
    """

    def __init__(
        self,
        workdir: Path,
        upstream: str,
        *,
        bind: str | None = None,
        locations: dict[str, list[str]] | None = None,
    ) -> None:
        self.dir = workdir
        self.port = free_port()
        self.upstream = upstream
        self.bind = bind
        self.locations = locations or {"/": []}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> str:
        common = [
            "proxy_http_version 1.1;",
            'proxy_set_header Connection "";',
            "proxy_set_header Host $host;",
            "proxy_set_header X-Request-ID $request_id;",
            "proxy_set_header X-Real-IP $remote_addr;",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Host $host;",
            "proxy_set_header X-Forwarded-Port $server_port;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            "proxy_set_header X-Forwarded-Scheme $scheme;",
            "proxy_set_header X-Scheme $scheme;",
            "proxy_set_header X-Original-URI $request_uri;",
            "proxy_buffering off;",
        ]
        if self.bind:
            common.append(f"proxy_bind {self.bind};")
        blocks = []
        for prefix, extra in self.locations.items():
            # a location's own proxy_set_header replaces the common one for that field
            named = {line.split()[1].lower() for line in extra if line.startswith("proxy_set")}
            kept = [c for c in common if not (c.startswith("proxy_set") and
                                              c.split()[1].lower() in named)]  # fmt: skip
            lines = "\n      ".join([*kept, *extra, f"proxy_pass {self.upstream};"])
            blocks.append(f"    location {prefix} {{\n      {lines}\n    }}")
        d = self.dir
        return f"""
pid {d}/nginx.pid;
error_log {d}/error.log warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{self.port};
{chr(10).join(blocks)}
  }}
}}
"""

    def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(self._config())
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.dir), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"nginx did not start: {(self.dir / 'error.log').read_text(errors='replace')}"
            ) from None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


class MotoS3Process:
    """moto's S3 server in its own process with moto's blanket CORS turned off
    (``MOTO_DISABLE_GLOBAL_CORS=1``), so it answers cross-origin requests as S3 does: with
    ``Access-Control-Allow-Origin`` only when the bucket's CORS rules allow the origin.
    (The in-process ``MotoS3Server`` adds the header to every response.)"""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log = workdir / "moto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import os
        import sys

        env = {**os.environ, "MOTO_DISABLE_GLOBAL_CORS": "1"}
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            wait_for_port(self.port, timeout=60)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"moto did not start: {self.log.read_text()}") from None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
