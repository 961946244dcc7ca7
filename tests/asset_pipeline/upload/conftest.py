"""Fixtures of the upload tests: a bucket on the session's moto S3 server."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.asset_pipeline.upload.helpers import BUCKET


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    """A boto3 S3 client of the moto server, with the empty bucket ``BUCKET`` made."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client
