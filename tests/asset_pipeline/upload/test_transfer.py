"""Object arguments, progress output and one-line error messages of the S3 transfer layer."""

from __future__ import annotations

import io

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from asset_pipeline.upload.invalidate import invalidation_paths
from asset_pipeline.upload.inventory import PHASE_HASHED, LocalObject
from asset_pipeline.upload.transfer import TransferProgress, describe_error, extra_args


def obj(encoding: str | None = None) -> LocalObject:
    return LocalObject(
        "a.css", "/d/a.css", 3, "ab" * 32, "text/css", "immutable", encoding, PHASE_HASHED
    )


def test_extra_args_carry_headers_and_blake3_metadata() -> None:
    assert extra_args(obj()) == {
        "ContentType": "text/css",
        "CacheControl": "immutable",
        "Metadata": {"blake3": "ab" * 32},
    }
    assert extra_args(obj("br"))["ContentEncoding"] == "br"


def test_progress_prints_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = TransferProgress(2, 3000, stream=out, tty=False)
    progress.advance("static/a.css", 1000)
    progress.advance("static/b.js", 2000)
    assert out.getvalue() == "uploaded static/a.css (1000 B)\nuploaded static/b.js (2.0 KB)\n"
    assert (progress.count, progress.bytes) == (2, 3000)


def test_progress_redraws_one_bar_on_a_terminal() -> None:
    out = io.StringIO()
    progress = TransferProgress(2, 2048, stream=out, tty=True)
    progress.advance("a", 1024)
    progress.advance("b", 1024)
    text = out.getvalue()
    assert text.count("\r") == 2
    assert text.endswith("] 2/2 2.0 KB/2.0 KB\n")
    assert "[" + "#" * 15 + "." * 15 + "] 1/2" in text


def client_error(code: str, status: int, message: str = "msg") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutObject",
    )


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (NoCredentialsError(), "no usable AWS credentials"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "cannot reach http://x"),
        (client_error("NoSuchBucket", 404), "bucket 'bkt' does not exist at http://x"),
        (client_error("InvalidAccessKeyId", 403), "s3://bkt/k: access denied (InvalidAccessKeyId"),
        (client_error("SignatureDoesNotMatch", 403), "access denied"),
        (client_error("Weird", 403), "access denied (Weird"),
        (client_error("SlowDown", 503, "Reduce your request rate"), "SlowDown (HTTP 503)"),
    ],
)
def test_errors_become_one_actionable_line(exc: BaseException, expected: str) -> None:
    message = describe_error(exc, "bkt", "http://x", key="k")
    assert expected in message
    assert "\n" not in message
    if "SlowDown" not in expected:
        assert "HINT:" in message


def test_wrapped_upload_errors_are_unwrapped() -> None:
    try:
        try:
            raise client_error("AccessDenied", 403)
        except ClientError as inner:
            raise S3UploadFailedError("Failed to upload a to b: " + str(inner))  # noqa: B904
    except S3UploadFailedError as outer:
        message = describe_error(outer, "bkt", None, key="big.bin")
    assert message.startswith("s3://bkt/big.bin: access denied (AccessDenied")


def test_invalidation_paths_cover_directory_index_and_encode() -> None:
    paths = invalidation_paths("static/", ["sw.js", "docs/index.html", "a b.html", "index.html"])
    assert paths == [
        "/static/sw.js",
        "/static/docs/index.html",
        "/static/docs/",
        "/static/a%20b.html",
        "/static/index.html",
        "/static/",
    ]
