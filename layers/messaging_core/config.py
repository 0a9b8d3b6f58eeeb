"""Settings: one pydantic object with the original's variable names, checked at start.

Read as pydantic-settings' `BaseSettings` reads them (the class once was one), without importing
pydantic-settings: that package imports all of its sources at once (CLI with argparse and gettext,
dotenv, cloud vaults, TOML, YAML), ~64 M instructions of every REST function's cold start, and its
generic source machinery costs ~29 M more per `Settings()` (cold start, #19). `_settings_values`
below does what `BaseSettings` does for this class's configuration, and
`tests/unit/test_settings_sources.py` compares the two on the same environments and `.env` files
(values, which fields count as set, and validation errors), so a pydantic-settings upgrade that
reads them differently fails there.
"""

import json
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote_plus

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic.fields import FieldInfo

# A development default so `make run` needs no set-up; refused outside development (see below).
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
DEV_FRONTEND_URL = "http://localhost:3000"
# A budget setting: "<count>/<window seconds>", both positive (for example "20/3600").
BUDGET_PATTERN = r"^[1-9][0-9]{0,8}/[1-9][0-9]{0,8}$"


# The file of `KEY=value` lines read beside the environment (relative to the working directory);
# `Settings(_env_file=None)` reads none, `Settings(_env_file="other.env")` another.
ENV_FILE = ".env"
EnvFile = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


class Settings(BaseModel):
    # BaseSettings' own defaults that reach pydantic (defaults validated too), and ours.
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, validate_default=True, arbitrary_types_allowed=True
    )

    def __init__(self, _env_file: EnvFile = ENV_FILE, **values: Any) -> None:
        super().__init__(**_settings_values(type(self), values, _env_file))

    # Unset means production: a deployment that forgot it gets every production check, never
    # the development shortcuts. `make run`, `make token` and the tests set it explicitly.
    environment: Literal["development", "test", "production"] = Field(
        default="production", validation_alias=AliasChoices("ENVIRONMENT", "NODE_ENV")
    )
    port: int = 3006
    log_level: str = "INFO"

    # Storage: unset means the embedded in-memory store (development only).
    mongodb_uri: SecretStr | None = None
    mongodb_uri_secret_arn: str | None = None
    mongodb_db: str = "esante-messaging"
    # Amazon's RDS CA bundle (shipped in the layer and the image): DocumentDB's TLS certificate
    # is verified against it. Unset: the system trust store (a local mongod, Atlas).
    mongodb_tls_ca_file: str | None = None

    # Authentication.
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_secret_arn: str | None = None
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    # A token living longer than this (exp - iat) is refused, whoever signed it.
    jwt_max_lifetime_seconds: int = Field(default=24 * 3600, gt=0, le=30 * 24 * 3600)
    # Revocation marks are read from Redis at most this often per user and process.
    revocation_cache_seconds: float = Field(default=2.0, ge=0, le=5)
    # Development only: `make token` records the users it mints here, so the embedded
    # directory of a running `make run` knows a recipient who has not called the API yet.
    dev_directory_file: str | None = None

    # Other services of the platform.
    user_service_url: str | None = None
    user_service_timeout_seconds: float = 1.5
    user_cache_ttl_seconds: int = 300
    notification_service_url: str | None = None

    # Realtime and events.
    redis_url: str | None = None
    redis_auth_secret_arn: str | None = None
    kafka_broker: str | None = None
    kafka_client_id: str = "messaging-service"
    kafka_topic_prefix: str = ""
    kafka_security: Literal["plaintext", "tls", "iam"] = "plaintext"
    # A publish waits this long for the broker's acks; past it the events stay for the relay.
    kafka_send_timeout_seconds: float = Field(default=1.5, gt=0, le=30)
    # After a failed publish, requests skip Kafka this long and leave events to the relay.
    kafka_circuit_open_seconds: float = Field(default=5.0, ge=0)
    # The outbox relay: how often it runs in a long-lived process, and how old a pending event
    # must be before it takes it over (younger ones may still be in their request's publish).
    outbox_relay_interval_seconds: float = Field(default=5.0, gt=0)
    outbox_relay_age_seconds: float = Field(default=5.0, ge=0)
    outbox_relay_batch: int = Field(default=200, gt=0, le=5000)
    notification_timeout_seconds: float = Field(default=1.0, gt=0, le=10)
    # Retention (retention.py): unset keeps messages forever (French medical records: 20 years);
    # the content and file of a soft-deleted message are erased after DELETED_CONTENT_PURGE_DAYS.
    retention_days: int | None = Field(default=None, gt=0)
    deleted_content_purge_days: int = Field(default=30, ge=0)
    purge_batch: int = Field(default=200, gt=0, le=5000)
    # In a long-lived process (`make run` sets it): run the purge every this many seconds;
    # 0 = never (in AWS the scheduled Lambda runs it).
    purge_interval_seconds: float = Field(default=0.0, ge=0)
    # AWS: the Object Lock bucket the relay copies the access trail into (audit_archive.py).
    audit_archive_bucket: str | None = None
    print_events: bool = False

    # Attachments.
    aws_region: str = "eu-west-3"
    aws_s3_bucket: str = "esante-messages"
    s3_endpoint_url: str | None = None

    # Front-end origin(s), comma separated, for CORS and Socket.IO. Unset: none outside
    # development (no localhost fallback), http://localhost:3000 in development.
    frontend_url: str | None = None

    # Limits (names and defaults of the original service).
    max_file_size: int = Field(default=10 * 1024 * 1024, gt=0)
    max_message_length: int = Field(default=5000, gt=0)
    messages_per_page: int = Field(default=50, gt=0, le=100)
    max_caption_length: int = Field(default=500, gt=0)
    rate_limit_messages: int = Field(default=30, gt=0)
    rate_limit_window_seconds: int = Field(default=10, gt=0)

    # Per-user budgets of every other event and route, "count/seconds", shared by all tasks and
    # functions through the same Redis limiter as sending (see budgets.py for what each covers).
    rate_limit_connect: str = Field(default="30/60", pattern=BUDGET_PATTERN)
    rate_limit_typing: str = Field(default="30/10", pattern=BUDGET_PATTERN)
    rate_limit_sync: str = Field(default="60/60", pattern=BUDGET_PATTERN)
    rate_limit_mark_read: str = Field(default="120/60", pattern=BUDGET_PATTERN)
    rate_limit_join: str = Field(default="60/60", pattern=BUDGET_PATTERN)
    rate_limit_history: str = Field(default="120/60", pattern=BUDGET_PATTERN)
    rate_limit_search: str = Field(default="30/60", pattern=BUDGET_PATTERN)
    rate_limit_upload: str = Field(default="30/60", pattern=BUDGET_PATTERN)
    rate_limit_send_file: str = Field(default="20/60", pattern=BUDGET_PATTERN)
    rate_limit_list: str = Field(default="60/60", pattern=BUDGET_PATTERN)
    rate_limit_open_conversation: str = Field(default="20/3600", pattern=BUDGET_PATTERN)
    rate_limit_unread: str = Field(default="60/60", pattern=BUDGET_PATTERN)
    rate_limit_online_status: str = Field(default="120/60", pattern=BUDGET_PATTERN)
    rate_limit_delete: str = Field(default="30/60", pattern=BUDGET_PATTERN)
    # Offset paging stops here (a deep skip scans every row before it); cursors go further.
    max_page_offset: int = Field(default=10_000, gt=0)

    # Attachments: presigned upload and download lifetimes, KMS key (AWS), multipart ceiling.
    s3_sse_kms_key_id: str | None = None
    upload_url_ttl_seconds: int = Field(default=300, gt=0, le=3600)
    download_url_ttl_seconds: int = Field(default=900, gt=0, le=3600)
    # Files through API Gateway + Lambda: 6 MB invoke payload, and base64 adds a third.
    multipart_max_bytes: int = Field(default=4 * 1024 * 1024, gt=0)

    # -- issue #16 part A: a sender may correct a text this long after sending it (the earlier
    # text is kept); edits and reactions have budgets of their own, like every other action.
    edit_window_minutes: int = Field(default=15, gt=0, le=24 * 60)
    rate_limit_edit: str = Field(default="30/60", pattern=BUDGET_PATTERN)
    rate_limit_reaction: str = Field(default="60/60", pattern=BUDGET_PATTERN)
    # Scheduled messages (issue #16 B, scheduling.py). The shortest lead time is a minute (the
    # original's roadmap); tests may shorten it, never below one second.
    scheduled_min_lead_seconds: float = Field(default=60.0, ge=1)
    scheduled_max_days: int = Field(default=30, gt=0, le=365)
    scheduled_max_pending: int = Field(default=100, gt=0, le=10_000)
    # How long a worker holds a claimed message before another may take it over (a dead Lambda).
    scheduled_lease_seconds: float = Field(default=120.0, gt=0)
    # In a long-lived process (`make run` sets it): look for due messages this often; 0 = never
    # (in AWS the one-minute scheduled Lambda does).
    scheduled_interval_seconds: float = Field(default=0.0, ge=0)
    # CloudFront as the only way in (#11, origin.py): the value CloudFront adds to every origin
    # request, or the ARN of the Secrets Manager secret holding it. Unset: no check.
    origin_verify_secret: SecretStr | None = None
    origin_verify_secret_arn: str | None = None
    # Voice and video messages (#17): their own ceilings (MAX_FILE_SIZE stays for the rest).
    max_audio_size: int = Field(default=10 * 1024 * 1024, gt=0)
    max_video_size: int = Field(default=100 * 1024 * 1024, gt=0)
    # Doctors' tools (#17): budgets of the template routes and of the analytics read.
    rate_limit_templates: str = Field(default="60/60", pattern=BUDGET_PATTERN)
    rate_limit_analytics: str = Field(default="20/60", pattern=BUDGET_PATTERN)

    @model_validator(mode="after")
    def _refuse_dev_defaults_in_production(self) -> "Settings":
        if self.environment != "development":
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET and not (
                self.jwt_secret_arn or self.jwt_jwks_url
            ):
                raise ValueError(
                    "JWT_SECRET is the development default: set JWT_SECRET or JWT_SECRET_ARN "
                    "(or JWT_JWKS_URL) outside development"
                )
            if self.dev_directory_file:
                raise ValueError("DEV_DIRECTORY_FILE is for development only")
        if self.environment == "production":
            if not (self.mongodb_uri or self.mongodb_uri_secret_arn):
                raise ValueError(
                    "MONGODB_URI (or MONGODB_URI_SECRET_ARN) is required in production"
                )
            # Revocation marks must be shared by every process: no Redis, no way to end a session.
            if not self.redis_url:
                raise ValueError("REDIS_URL is required in production (session revocation)")
            # A token of another service (or another tenant) signed by the same issuer key
            # must not open this one.
            if not (self.jwt_issuer and self.jwt_audience):
                raise ValueError("JWT_ISSUER and JWT_AUDIENCE are required in production")
        if self.mongodb_tls_ca_file and not os.path.isfile(self.mongodb_tls_ca_file):
            # Fail at start-up, not with a TLS error on the first request (or, worse, unverified).
            raise ValueError("MONGODB_TLS_CA_FILE does not name a readable file")
        return self

    @property
    def frontend_origins(self) -> list[str]:
        raw = self.frontend_url
        if raw is None:
            raw = DEV_FRONTEND_URL if self.environment == "development" else ""
        return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]

    # --- Operator socket of `make run` (issue #15): `make legal-hold`/`make purge` reach the
    # process that holds the embedded store through this Unix socket (operator_socket.py).
    # Development only: elsewhere operators use the database (compliance_admin.py, AWS admin task).
    local_admin_socket: str | None = None

    @model_validator(mode="after")
    def _operator_socket_in_development_only(self) -> "Settings":
        if self.local_admin_socket and self.environment != "development":
            raise ValueError("LOCAL_ADMIN_SOCKET is for development (`make run`) only")
        return self


def _source_names(name: str, info: FieldInfo) -> tuple[str, ...]:
    """The names a field is given under, preferred first: its alias choices, then its own name
    (`populate_by_name`). The first is the key every source passes the value under."""
    alias = info.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else (alias,) if alias else ()
    names = [choice for choice in choices if isinstance(choice, str)]
    return tuple(dict.fromkeys([*names, name]))


def _read_env_files(env_file: EnvFile) -> dict[str, str | None]:
    """The variables of the `.env` file(s) that exist, names lower-cased (later files win)."""
    if env_file is None:
        return {}
    files = [env_file] if isinstance(env_file, (str, os.PathLike)) else list(env_file)
    found: dict[str, str | None] = {}
    for file in files:
        path = Path(file).expanduser()
        if path.is_file() or path.is_fifo():
            from dotenv import dotenv_values  # only when there is a file: none in Lambda

            values = dotenv_values(path, encoding="utf-8")
            found.update({key.lower(): value for key, value in values.items()})
    return found


def _settings_values(
    cls: type[BaseModel], init: Mapping[str, Any], env_file: EnvFile
) -> dict[str, Any]:
    """The values pydantic-settings' BaseSettings would validate for `cls`, with its sources in
    its order of priority: keyword arguments, then environment variables, then the `.env` file
    (names compared without case, no prefix, values as text, an empty value kept as given)."""
    environ = {key.lower(): value for key, value in os.environ.items()}
    dotenv = _read_env_files(env_file)
    given: dict[str, list[str]] = {}  # keyword names by lower-cased name
    for key in init:
        given.setdefault(key.lower(), []).append(key)
    unmatched = set(init)
    state: dict[str, Any] = {}
    renamed: dict[str, str] = {}  # preferred key -> the keyword it was given under exactly
    for name, info in cls.model_fields.items():
        names = _source_names(name, info)
        preferred = names[0]
        matched = [
            key for lower in names for key in given.get(lower.lower(), ()) if key in unmatched
        ]
        if matched:
            unmatched.difference_update(matched)
            state[preferred] = init[matched[0]]
            exact = [key for key in init if key in names]
            if exact:
                renamed[preferred] = exact[0]
            continue
        for source in (environ, dotenv):
            value = next((v for v in (source.get(n.lower()) for n in names) if v is not None), None)
            if value is not None:
                state[preferred] = value
                break
    state.update({key: init[key] for key in init if key in unmatched})  # extras, ignored
    for preferred, key in renamed.items():
        state[key] = state.pop(preferred)
    return state


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def read_secret(arn: str) -> str:
    """Fetch a secret at run time (AWS only); cached by Powertools, never logged."""
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, max_age=300)
    return value if isinstance(value, str) else str(value)


def mongodb_uri_of(secret: str, db_name: str) -> str:
    """The URI in a secret: a plain `mongodb://` string (Atlas, your own), or the JSON of a
    DocumentDB user secret rotated by Secrets Manager (username, password, host, port)."""
    text = secret.strip()
    if not text.startswith("{"):
        return text
    try:
        doc = json.loads(text)
        user, password = quote_plus(str(doc["username"])), quote_plus(str(doc["password"]))
        host, port = str(doc["host"]), int(doc.get("port", 27017))
    except (ValueError, KeyError, TypeError):
        # The secret's text is never part of the message.
        raise ValueError("the MongoDB secret is neither a URI nor a user secret") from None
    return (
        f"mongodb://{user}:{password}@{host}:{port}/{db_name}?tls=true&replicaSet=rs0"
        "&readPreference=secondaryPreferred&retryWrites=false&authSource=admin"
    )
