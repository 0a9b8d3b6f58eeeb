"""Deployment settings read once from CDK context, so constructs never parse context themselves."""

from dataclasses import dataclass
from pathlib import Path

from constructs import Node

from infra import constants as c

REPO_ROOT = Path(__file__).resolve().parent.parent


class BuildMissingError(RuntimeError):
    """The Lambda artefacts are not there: synth cannot package code that was not built."""


class PlainHttpError(RuntimeError):
    """No certificate for the socket endpoint, and plain HTTP was not explicitly allowed."""


def _optional(node: Node, key: str) -> str | None:
    value = node.try_get_context(key)
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()


@dataclass(frozen=True)
class DeploySettings:
    region: str
    account: str | None
    build_dir: Path
    asset_root: Path
    frontend_url: str
    oidc_issuer: str | None
    oidc_audience: str | None
    jwt_issuer: str
    jwt_audience: str
    jwt_max_lifetime_seconds: int
    oidc_jwks_url: str | None
    kafka_topic_prefix: str
    certificate_arn: str | None
    socket_origin_domain: str | None
    allow_plain_http: bool
    mongodb_uri_secret_arn: str | None
    kafka_bootstrap: str | None
    user_service_url: str | None
    notification_service_url: str | None
    alarm_email: str | None
    log_retention_days: int
    nat_gateways: int
    docdb_profiler: bool = False
    audit_retention_years: int = 6
    # CloudFront as the only way in (#11): the origin-facing prefix list's id, when known.
    cloudfront_prefix_list_id: str | None = None

    @property
    def frontend_origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.frontend_url.split(",") if o.strip()]

    @property
    def layer_dir(self) -> Path:
        return self.build_dir / c.BUILD_LAYER_SUBDIR

    @property
    def functions_dir(self) -> Path:
        return self.build_dir / c.BUILD_FUNCTIONS_SUBDIR

    @classmethod
    def from_context(cls, node: Node, default_account: str | None = None) -> "DeploySettings":
        def path(key: str, default: Path) -> Path:
            raw = _optional(node, key)
            p = Path(raw) if raw else default
            return p if p.is_absolute() else (REPO_ROOT / p)

        return cls(
            region=_optional(node, c.CTX_REGION) or c.DEFAULT_REGION,
            account=_optional(node, c.CTX_ACCOUNT) or default_account,
            build_dir=path(c.CTX_BUILD_DIR, REPO_ROOT / c.DEFAULT_BUILD_DIR),
            asset_root=path(c.CTX_ASSET_ROOT, REPO_ROOT),
            frontend_url=_optional(node, c.CTX_FRONTEND_URL) or c.DEFAULT_FRONTEND_URL,
            oidc_issuer=_optional(node, c.CTX_OIDC_ISSUER),
            oidc_audience=_optional(node, c.CTX_OIDC_AUDIENCE),
            jwt_issuer=_optional(node, c.CTX_JWT_ISSUER)
            or _optional(node, c.CTX_OIDC_ISSUER)
            or c.DEFAULT_JWT_ISSUER,
            jwt_audience=_optional(node, c.CTX_JWT_AUDIENCE)
            or _optional(node, c.CTX_OIDC_AUDIENCE)
            or c.DEFAULT_JWT_AUDIENCE,
            jwt_max_lifetime_seconds=int(
                _optional(node, c.CTX_JWT_MAX_LIFETIME_SECONDS)
                or c.DEFAULT_JWT_MAX_LIFETIME_SECONDS
            ),
            oidc_jwks_url=_optional(node, c.CTX_OIDC_JWKS_URL),
            kafka_topic_prefix=_optional(node, c.CTX_KAFKA_TOPIC_PREFIX)
            or c.DEFAULT_KAFKA_TOPIC_PREFIX,
            certificate_arn=_optional(node, c.CTX_CERTIFICATE_ARN),
            socket_origin_domain=_optional(node, c.CTX_SOCKET_ORIGIN_DOMAIN),
            allow_plain_http=(_optional(node, c.CTX_ALLOW_PLAIN_HTTP) or "").lower() == "true",
            mongodb_uri_secret_arn=_optional(node, c.CTX_MONGODB_URI_SECRET_ARN),
            kafka_bootstrap=_optional(node, c.CTX_KAFKA_BOOTSTRAP),
            user_service_url=_optional(node, c.CTX_USER_SERVICE_URL),
            notification_service_url=_optional(node, c.CTX_NOTIFICATION_SERVICE_URL),
            alarm_email=_optional(node, c.CTX_ALARM_EMAIL),
            log_retention_days=int(
                _optional(node, c.CTX_LOG_RETENTION_DAYS) or c.DEFAULT_LOG_RETENTION_DAYS
            ),
            nat_gateways=int(_optional(node, c.CTX_NAT_GATEWAYS) or c.DEFAULT_NAT_GATEWAYS),
            audit_retention_years=int(
                _optional(node, c.CTX_AUDIT_RETENTION_YEARS) or c.DEFAULT_AUDIT_RETENTION_YEARS
            ),
            # Only an explicit "true" turns it on: anything else keeps health data out of logs.
            docdb_profiler=(_optional(node, c.CTX_DOCDB_PROFILER) or "").lower() == "true",
            cloudfront_prefix_list_id=_optional(node, c.CTX_CLOUDFRONT_PREFIX_LIST_ID),
        )

    def check_tls(self) -> None:
        """The socket endpoint carries health data: HTTPS unless a test deploy says otherwise."""
        if self.certificate_arn is None and not self.allow_plain_http:
            raise PlainHttpError(
                f"No TLS certificate for the socket endpoint: pass -c {c.CTX_CERTIFICATE_ARN}="
                "<ACM certificate ARN> (production), or, for a test account only, "
                f"-c {c.CTX_ALLOW_PLAIN_HTTP}=true to serve plain HTTP (docs/deploy.md)."
            )

    def check_build(self) -> None:
        """Fail early and plainly rather than with a CDK asset error deep in synth."""
        missing = [p for p in (self.layer_dir, self.functions_dir) if not p.is_dir()]
        if missing:
            names = ", ".join(str(p) for p in missing)
            raise BuildMissingError(
                f"Lambda build output not found ({names}). Run `make build` first "
                f"(scripts/build_lambda.sh), or point context `{c.CTX_BUILD_DIR}` at it."
            )
        dockerfile = self.asset_root / c.SOCKET_DOCKERFILE
        if not dockerfile.is_file():
            raise BuildMissingError(
                f"{c.SOCKET_DOCKERFILE} not found under {self.asset_root}: the socket tier image "
                f"cannot be staged (context `{c.CTX_ASSET_ROOT}` sets the build context)."
            )
