"""boto3 clients for SES and SNS, pointed at `ONCALL_AWS_ENDPOINT_URL` when it is set.

botocore's own retries are off for the same reason as Slack's: the dispatcher owns retries.
Credentials come from `ONCALL_AWS_ACCESS_KEY_ID` / `ONCALL_AWS_SECRET_ACCESS_KEY` when given,
otherwise from boto3's usual chain (environment, instance role, profile).
"""

from __future__ import annotations

from typing import Any

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
)

from oncall.notify.providers.base import (
    DeliveryResult,
    network_failure,
    retryable_status,
    unexpected_failure,
)
from oncall.notify.settings import ProviderSettings

_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
}


def aws_client(settings: ProviderSettings, service: str) -> Any:
    timeout = settings.timeout(service)
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return boto3.session.Session().client(
        service,
        region_name=settings.region(service),
        endpoint_url=settings.aws_endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        config=config,
    )


def aws_failure(provider: str, exc: BaseException) -> DeliveryResult:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        retryable = retryable_status(status) or code in _THROTTLED
        message = str(error.get("Message", ""))
        return DeliveryResult.failed(
            provider,
            f"{code}: {message}".strip(": "),
            retryable=retryable,
            status_code=status or None,
        )
    if isinstance(exc, NoCredentialsError):
        return DeliveryResult.failed(provider, f"configuration: {exc}", retryable=False)
    if isinstance(exc, (BotoCoreError, OSError)):
        return network_failure(provider, exc)
    return unexpected_failure(provider, exc)
