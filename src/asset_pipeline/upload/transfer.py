"""Talking to S3: the shared client, phase uploads on a bounded pool, progress, errors.

boto3 clients are thread-safe (sessions are not), so one client per service is created
up front and shared by every worker; its connection pool is sized to the worker count,
and throttling/5xx retries are botocore's own (``standard`` or ``adaptive`` mode).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TextIO

from asset_pipeline.upload.inventory import LocalObject
from asset_pipeline.upload.plan import format_size
from asset_pipeline.upload.state import META_DICTIONARY, META_HASH

_AUTH_CODES = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "InvalidClientTokenId",
    "AccessDeniedException",
}


@dataclass(frozen=True, slots=True)
class UploadFailure:
    key: str
    message: str


def make_client(
    service: str,
    *,
    endpoint_url: str | None,
    region: str | None,
    retry_mode: str,
    max_attempts: int,
    pool_size: int,
    checksums: str = "when_supported",
    addressing_style: str = "auto",
) -> Any:
    import boto3
    from botocore.config import Config

    retries: Any = {"mode": retry_mode, "total_max_attempts": max_attempts}
    checksum_mode: Any = checksums
    s3_options: Any = {"addressing_style": addressing_style}
    config = Config(
        retries=retries,
        max_pool_connections=max(10, pool_size + 2),
        connect_timeout=10,
        read_timeout=120,
        request_checksum_calculation=checksum_mode,
        response_checksum_validation=checksum_mode,
        s3=s3_options,
    )
    session = boto3.session.Session()
    return session.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=region,
        config=config,
    )


def extra_args(obj: LocalObject) -> dict[str, Any]:
    args: dict[str, Any] = {
        "ContentType": obj.content_type,
        "CacheControl": obj.cache_control,
        "Metadata": {META_HASH: obj.blake3},
    }
    if obj.content_encoding:
        args["ContentEncoding"] = obj.content_encoding
    if obj.dictionary:  # which dictionary a dcz delta needs (RFC 9842), for edge logic
        args["Metadata"][META_DICTIONARY] = obj.dictionary
    if obj.acl:
        args["ACL"] = obj.acl
    return args


def put_file(
    client: Any, bucket: str, key: str, obj: LocalObject, *, multipart_threshold: int
) -> None:
    """A single PUT for small files; multipart (parts in parallel) above the threshold."""
    if obj.size < multipart_threshold:
        with open(obj.path, "rb") as body:
            client.put_object(Bucket=bucket, Key=key, Body=body, **extra_args(obj))
        return
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=multipart_threshold,
        multipart_chunksize=max(multipart_threshold, 5 * 2**20),
        max_concurrency=4,
    )
    client.upload_file(obj.path, bucket, key, ExtraArgs=extra_args(obj), Config=config)


class TransferProgress:
    """A redrawn bar on a terminal; one plain line per object otherwise (CI logs)."""

    def __init__(
        self, total: int, total_bytes: int, *, stream: TextIO | None = None, tty: bool | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = total
        self.total_bytes = total_bytes
        self.count = 0
        self.bytes = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, key: str, size: int) -> None:
        with self._lock:
            self.count += 1
            self.bytes += size
            if self.tty:
                done = int(30 * self.count / max(self.total, 1))
                self.stream.write(
                    f"\r[{'#' * done}{'.' * (30 - done)}] {self.count}/{self.total} "
                    f"{format_size(self.bytes)}/{format_size(self.total_bytes)}"
                )
                if self.count == self.total:
                    self.stream.write("\n")
            else:
                self.stream.write(f"uploaded {key} ({format_size(size)})\n")
            self.stream.flush()


def upload_phase(
    client: Any,
    bucket: str,
    prefix: str,
    objects: Sequence[LocalObject],
    *,
    pool: ThreadPoolExecutor,
    multipart_threshold: int,
    progress: TransferProgress | None = None,
    endpoint_url: str | None = None,
) -> list[UploadFailure]:
    """Upload one phase; after the first failure nothing new starts (in-flight PUTs finish)."""
    futures: dict[Future[None], LocalObject] = {
        pool.submit(
            put_file, client, bucket, prefix + o.rel, o, multipart_threshold=multipart_threshold
        ): o
        for o in objects
    }
    failures: list[UploadFailure] = []
    try:
        for future in as_completed(futures):
            obj = futures[future]
            if future.cancelled():
                continue
            exc = future.exception()
            if exc is None:
                if progress is not None:
                    progress.advance(prefix + obj.rel, obj.size)
                continue
            key = prefix + obj.rel
            failures.append(UploadFailure(key, describe_error(exc, bucket, endpoint_url, key=key)))
            for other in futures:
                other.cancel()
    except BaseException:
        # Ctrl-C or a bug: start nothing new; the pool's shutdown waits only for in-flight PUTs.
        for other in futures:
            other.cancel()
        raise
    return failures


def _root_cause(exc: BaseException) -> BaseException:
    from botocore.exceptions import BotoCoreError, ClientError

    seen = exc
    while not isinstance(seen, ClientError | BotoCoreError):
        nxt = seen.__cause__ or seen.__context__
        if nxt is None:
            return exc
        seen = nxt
    return seen


def describe_error(
    exc: BaseException, bucket: str, endpoint_url: str | None, *, key: str | None = None
) -> str:
    """One line that says what failed and how to fix it; never a traceback."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
    )

    cause = _root_cause(exc)
    where = f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}"
    endpoint = endpoint_url or "the default AWS endpoint"
    if isinstance(cause, NoCredentialsError | PartialCredentialsError):
        return (
            f"no usable AWS credentials ({cause}). HINT: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run `aws configure`."
        )
    if isinstance(cause, ProfileNotFound):
        return f"{cause}. HINT: check AWS_PROFILE against ~/.aws/config."
    if isinstance(cause, EndpointConnectionError | ConnectTimeoutError):
        return (
            f"cannot reach {endpoint} ({cause}). HINT: check --endpoint-url, "
            "--region and the network."
        )
    if isinstance(cause, ReadTimeoutError):
        return f"{where}: {endpoint} stopped answering ({cause}). HINT: retry the upload."
    if isinstance(cause, ClientError):
        error = cause.response.get("Error", {})
        code = str(error.get("Code", "?"))
        message = str(error.get("Message", "")) or str(cause)
        status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return (
                f"bucket {bucket!r} does not exist at {endpoint}. HINT: create it, or fix "
                "--bucket / --endpoint-url / --region."
            )
        if code in _AUTH_CODES or status == 403:
            return (
                f"{where}: access denied ({code}: {message}). HINT: check the credentials "
                "and that they allow s3:GetObject, s3:PutObject, s3:ListBucket "
                "(and s3:DeleteObject for --prune-older-than) on this bucket."
            )
        return f"{where}: {code} (HTTP {status}): {message}"
    return f"{where}: {type(exc).__name__}: {exc}"
