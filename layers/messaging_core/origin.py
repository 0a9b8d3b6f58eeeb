"""Proof of passage through the edge: CloudFront adds a secret header, the API requires it.

API Gateway's execute-api URL (and the socket ALB's name) can be called directly, around
CloudFront and its WAF. CloudFront sends ORIGIN_VERIFY_HEADER with a value generated in Secrets
Manager on every origin request; the socket ALB forwards only requests that carry it, and the
REST functions check it here. Unset (no ORIGIN_VERIFY_SECRET nor its ARN): no check, as in
`make run` and the tests. Set but unreadable: every request is refused (fail closed).
"""

import hmac

from .config import Settings, read_secret
from .errors import Forbidden

DIRECT_ACCESS = "Direct access to the API is not allowed: use the service's public URL"


def origin_check_enabled(settings: Settings) -> bool:
    """Whether requests must prove they came through CloudFront."""
    return bool(settings.origin_verify_secret or settings.origin_verify_secret_arn)


def check_origin(settings: Settings, presented: str | None) -> None:
    """Refuse (`Forbidden`) a request whose origin header is missing or wrong, when enabled."""
    if not origin_check_enabled(settings):
        return
    try:
        expected = _expected(settings)
    except Exception:  # any failure to read the secret refuses, never admits
        raise Forbidden(DIRECT_ACCESS) from None
    # Constant time: a wrong guess says nothing about how close it was.
    if (
        not expected
        or presented is None
        or not hmac.compare_digest(presented.encode(), expected.encode())
    ):
        raise Forbidden(DIRECT_ACCESS)


def _expected(settings: Settings) -> str:
    if settings.origin_verify_secret_arn:
        # Cached five minutes by Powertools: a rotated value reaches every function that soon.
        return read_secret(settings.origin_verify_secret_arn).strip()
    assert settings.origin_verify_secret is not None
    return settings.origin_verify_secret.get_secret_value()
