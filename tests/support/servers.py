"""Real servers for tests: redis-server, uvicorn, moto's S3 server. Never mocks."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar


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


class _Startable(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Startable)


def running(server: S) -> Iterator[S]:
    """Start ``server``, yield it, stop it: the body of a pytest fixture (``yield from``)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Terminate ``process`` and reap it; SIGKILL it if it has not exited after ``timeout``
    seconds, so a stuck server never outlives the test session."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def redis_command(binary: str, port: int, workdir: Path) -> list[str]:
    """The ``redis-server`` command line every test server shares: loopback only, nothing
    persisted (no RDB snapshots, no AOF), files under ``workdir``."""
    return [
        binary,
        *("--port", str(port), "--bind", "127.0.0.1"),
        *("--save", "", "--appendonly", "no", "--dir", str(workdir)),
    ]


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
            [*redis_command(self.binary, self.port, self.workdir), *self.extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        stop_process(self.process)
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
        stop_process(self.proc)
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
        stop_process(self.proc)
        self.proc = None


def free_cluster_port() -> int:
    """A free loopback port P whose cluster bus port P+10000 is free too."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 40000)
        try:
            for candidate in (port, port + 10000):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


class RedisClusterServer:
    """A real Redis Cluster of ``masters`` ``redis-server --cluster-enabled yes`` processes
    (no replicas) on loopback ports, joined by ``redis-cli --cluster create``.

    ``kill(port)`` stops one master hard (SIGKILL, as a crash); ``restart(port)`` starts it
    again on the same port with its ``nodes.conf``, so it rejoins owning the same slots —
    empty, since nothing is persisted."""

    def __init__(self, workdir: Path, masters: int = 3, node_timeout_ms: int = 1000) -> None:
        binary = shutil.which("redis-server")
        if binary is None or shutil.which("redis-cli") is None:
            raise RuntimeError("redis-server/redis-cli are not installed. HINT: run `make test`.")
        self.binary = binary
        self.workdir = workdir
        self.node_timeout_ms = node_timeout_ms
        self.ports: list[int] = []
        while len(self.ports) < masters:
            port = free_cluster_port()
            if port not in self.ports:
                self.ports.append(port)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def _spawn(self, port: int) -> None:
        node_dir = self.workdir / f"node-{port}"
        node_dir.mkdir(parents=True, exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [
                *redis_command(self.binary, port, node_dir),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"nodes-{port}.conf",
                "--cluster-node-timeout",
                str(self.node_timeout_ms),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port)

    def cli(self, port: int, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(port), *args], check=True, capture_output=True, timeout=30
        )
        return done.stdout.decode()

    def start(self) -> None:
        for port in self.ports:
            self._spawn(port)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        create = ["--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(
            ["redis-cli", *create],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_ok()

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node reports ``cluster_state:ok``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [self.cli(port, "CLUSTER", "INFO") for port in self.processes]
            if all("cluster_state:ok" in state for state in states):
                return
            time.sleep(0.05)
        raise TimeoutError(f"Redis Cluster on {self.ports} did not reach cluster_state:ok")

    def port_for_key(self, key: str) -> int:
        """The port of the master serving ``key``'s slot."""
        slot = int(self.cli(self.ports[0], "CLUSTER", "KEYSLOT", key))
        for port in self.processes:
            for line in self.cli(port, "CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" not in fields[2]:
                    continue
                for span in fields[8:]:
                    lo, _, hi = span.partition("-")
                    if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                        return port
        raise LookupError(f"no running master serves slot {slot} of {key!r}")

    def kill(self, port: int) -> None:
        process = self.processes.pop(port)
        process.kill()
        process.wait(timeout=10)

    def restart(self, port: int) -> None:
        self._spawn(port)
        self.wait_ok()

    def flush(self) -> None:
        for port in self.processes:
            self.cli(port, "FLUSHALL")

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=10)
        self.processes.clear()


class UvicornProcess:
    """``uvicorn --factory TARGET`` in a process of its own (its own event loop, its own
    backend objects), for tests about what several server processes see."""

    def __init__(self, factory: str, env: dict[str, str], cwd: Path) -> None:
        self.factory = factory
        self.env = env
        self.cwd = cwd
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import os
        import sys

        command = [sys.executable, "-m", "uvicorn", "--factory", self.factory]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off"]
        command += ["--log-level", "warning"]
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        stop_process(self.process, timeout=15)
        self.process = None
