"""Every name the CDK app shares with the application code, the tests and the operators."""

from typing import Final

# Needs layers/ on sys.path: infra/app.py puts it there, pytest's `pythonpath` and `make` too.
from messaging_core.names import METRIC_AUDIT_ARCHIVE_FAILED as METRIC_AUDIT_ARCHIVE_FAILED
from messaging_core.names import METRIC_OUTBOX_PENDING as METRIC_OUTBOX_PENDING
from messaging_core.names import METRICS_NAMESPACE as METRICS_NAMESPACE
from messaging_core.names import ORIGIN_VERIFY_HEADER as ORIGIN_VERIFY_HEADER
from messaging_core.names import SERVICE_NAME as SERVICE_NAME

# --- Stacks and placement -------------------------------------------------------------------
APP_NAME: Final = "esante-messaging"
DATA_STACK_NAME: Final = "EsanteMessagingData"
COMPUTE_STACK_NAME: Final = "EsanteMessagingCompute"
# Health data stays in France (HDS): Paris is the default, a context value can override it.
DEFAULT_REGION: Final = "eu-west-3"
# The CLOUDFRONT-scope web ACL: CloudFront only takes one created in us-east-1, so it lives in
# a small stack of its own there (no health data in it: rules and WAF logs only).
EDGE_WAF_STACK_NAME: Final = "EsanteMessagingEdgeWaf"
EDGE_WAF_REGION: Final = "us-east-1"

# --- Context keys (`cdk synth -c key=value`) --------------------------------------------------
CTX_REGION: Final = "region"
CTX_ACCOUNT: Final = "account"
CTX_BUILD_DIR: Final = "buildDir"  # where `make build` put layer/ and functions/
CTX_ASSET_ROOT: Final = "assetRoot"  # docker build context of the socket tier (repo root)
CTX_FRONTEND_URL: Final = "frontendUrl"
CTX_OIDC_ISSUER: Final = "oidcIssuer"  # tokens are RS256 from this issuer, checked in-function
CTX_OIDC_AUDIENCE: Final = "oidcAudience"
CTX_OIDC_JWKS_URL: Final = "oidcJwksUrl"  # default <issuer>/.well-known/jwks.json
CTX_KAFKA_TOPIC_PREFIX: Final = "kafkaTopicPrefix"  # off by default: the original's names
CTX_CERTIFICATE_ARN: Final = "certificateArn"  # HTTPS on the ALB (required, see below)
# With certificateArn: a name on that certificate resolving to the ALB, for CloudFront to use.
CTX_SOCKET_ORIGIN_DOMAIN: Final = "socketOriginDomain"
# FOR TESTING ONLY: synth without certificateArn, the socket ALB then serves plain HTTP.
CTX_ALLOW_PLAIN_HTTP: Final = "allowPlainHttpForTesting"
CTX_MONGODB_URI_SECRET_ARN: Final = "mongodbUriSecretArn"  # bring your own MongoDB (Atlas)
CTX_KAFKA_BOOTSTRAP: Final = "kafkaBootstrap"  # skip the bootstrap look-up custom resource
CTX_USER_SERVICE_URL: Final = "userServiceUrl"
CTX_NOTIFICATION_SERVICE_URL: Final = "notificationServiceUrl"
CTX_ALARM_EMAIL: Final = "alarmEmail"
CTX_LOG_RETENTION_DAYS: Final = "logRetentionDays"
CTX_AUDIT_RETENTION_YEARS: Final = "auditRetentionYears"  # Object Lock, compliance mode
CTX_NAT_GATEWAYS: Final = "natGateways"
# What the code checks in every token (JWT_ISSUER / JWT_AUDIENCE / JWT_MAX_LIFETIME_SECONDS).
CTX_JWT_ISSUER: Final = "jwtIssuer"
CTX_JWT_AUDIENCE: Final = "jwtAudience"
CTX_JWT_MAX_LIFETIME_SECONDS: Final = "jwtMaxLifetimeSeconds"
# DocumentDB's profiler logs whole commands (message content, search words, file names): off
# unless an operator opts in for a debugging window (`-c docdbProfiler=true`), see deploy.md.
CTX_DOCDB_PROFILER: Final = "docdbProfiler"

# No browser origin unless `frontendUrl` names one (no localhost fallback in a deployment).
DEFAULT_FRONTEND_URL: Final = ""
# The issuer and audience the platform's auth service must put in tokens for this service
# (`iss` / `aud`); oidcIssuer/oidcAudience, when given, are the defaults instead.
DEFAULT_JWT_ISSUER: Final = "esante-auth"
DEFAULT_JWT_AUDIENCE: Final = "esante-messaging"
DEFAULT_JWT_MAX_LIFETIME_SECONDS: Final = 24 * 3600
# One year: application and access logs are the traceability record a health-data host
# (HDS / CNIL guidance: 6 to 12 months) must keep; they carry no message content.
DEFAULT_LOG_RETENTION_DAYS: Final = 365
DEFAULT_AUDIT_RETENTION_YEARS: Final = 6  # HIPAA keeps documentation six years
DEFAULT_NAT_GATEWAYS: Final = 2  # one per AZ: an AZ outage does not cut the functions off

# --- Build output (scripts/build_lambda.sh) --------------------------------------------------
DEFAULT_BUILD_DIR: Final = "build"
BUILD_LAYER_SUBDIR: Final = "layer"
BUILD_FUNCTIONS_SUBDIR: Final = "functions"
SOCKET_DOCKERFILE: Final = "socket_tier/Dockerfile"
# Never shipped in the image build context: local envs, caches, build output, tests.
DOCKER_EXCLUDES: Final = (
    ".venv*",
    ".cache",
    "cdk.out",
    "build",
    ".git",
    "tests",
    "node_modules",
    "**/__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)

# --- Lambda functions ------------------------------------------------------------------------
FN_CONVERSATIONS: Final = "conversations"
FN_MESSAGES: Final = "messages"
FN_ATTACHMENTS: Final = "attachments"
FN_PRESENCE: Final = "presence"
FN_RELAY: Final = "relay"
FN_PURGE: Final = "purge"  # retention (issue #15), scheduled daily
FN_MESSAGE_ACTIONS: Final = "message_actions"  # edits and reactions (issue #16 part A)
# Scheduled messages (issue #16 B): the REST routes, and the one-minute sender.
FN_SCHEDULED: Final = "scheduled"
FN_SCHEDULED_SENDER: Final = "scheduled_sender"
FN_DOCTOR_TOOLS: Final = "doctor_tools"  # templates and response analytics (issue #17)
API_FUNCTIONS: Final = (
    FN_CONVERSATIONS,
    FN_MESSAGES,
    FN_ATTACHMENTS,
    FN_PRESENCE,
    FN_MESSAGE_ACTIONS,  # issue #16 part A
    FN_SCHEDULED,  # issue #16 B
    FN_DOCTOR_TOOLS,  # issue #17
)
# Legal holds and a manual purge in AWS (issue #15): no route, no schedule, no resource policy;
# run by `aws lambda invoke` from an IAM principal allowed to (docs/deploy.md).
FN_OPERATOR: Final = "operator"
ALL_FUNCTIONS: Final = (*API_FUNCTIONS, FN_RELAY, FN_PURGE, FN_SCHEDULED_SENDER, FN_OPERATOR)


def handler_of(function: str) -> str:
    """Handler string for a module of functions/ (code root = build/functions)."""
    return f"functions.{function}.handler"


API_PREFIX: Final = "/api/v1/messages"
# (method, path, function): every endpoint of the original service plus the upload flow.
ROUTES: Final = (
    ("POST", f"{API_PREFIX}/conversations", FN_CONVERSATIONS),
    ("GET", f"{API_PREFIX}/conversations", FN_CONVERSATIONS),
    ("GET", f"{API_PREFIX}/conversations/{{conversationId}}/messages", FN_MESSAGES),
    ("POST", f"{API_PREFIX}/conversations/{{conversationId}}/messages", FN_MESSAGES),
    ("PUT", f"{API_PREFIX}/conversations/{{conversationId}}/mark-read", FN_MESSAGES),
    ("DELETE", f"{API_PREFIX}/{{messageId}}", FN_MESSAGES),
    ("GET", f"{API_PREFIX}/unread-count", FN_MESSAGES),
    ("GET", f"{API_PREFIX}/search", FN_MESSAGES),
    ("GET", f"{API_PREFIX}/conversations/{{conversationId}}/access-log", FN_MESSAGES),
    ("GET", f"{API_PREFIX}/conversations/{{conversationId}}/export", FN_MESSAGES),
    ("POST", f"{API_PREFIX}/conversations/{{conversationId}}/attachments", FN_ATTACHMENTS),
    ("POST", f"{API_PREFIX}/conversations/{{conversationId}}/send-file", FN_ATTACHMENTS),
    ("GET", f"{API_PREFIX}/users/{{userId}}/online-status", FN_PRESENCE),
    # -- issue #16 part A: edits and reactions
    ("PUT", f"{API_PREFIX}/{{messageId}}", FN_MESSAGE_ACTIONS),
    ("GET", f"{API_PREFIX}/{{messageId}}/versions", FN_MESSAGE_ACTIONS),
    ("POST", f"{API_PREFIX}/{{messageId}}/reactions", FN_MESSAGE_ACTIONS),
    ("DELETE", f"{API_PREFIX}/{{messageId}}/reactions/{{emoji}}", FN_MESSAGE_ACTIONS),
    # Forwarding and scheduled messages (issue #16 B). Forwarding runs in the attachments
    # function: a forwarded file is copied under files/, which only its role may write.
    ("POST", f"{API_PREFIX}/{{messageId}}/forward", FN_ATTACHMENTS),
    ("GET", f"{API_PREFIX}/scheduled", FN_SCHEDULED),
    ("DELETE", f"{API_PREFIX}/scheduled/{{scheduledMessageId}}", FN_SCHEDULED),
    # Care-team membership (#18), served by the conversations function.
    ("POST", f"{API_PREFIX}/conversations/{{conversationId}}/participants", FN_CONVERSATIONS),
    (
        "DELETE",
        f"{API_PREFIX}/conversations/{{conversationId}}/participants/{{userId}}",
        FN_CONVERSATIONS,
    ),
    # Doctors' tools (issue #17): templates and response analytics.
    ("GET", f"{API_PREFIX}/templates", FN_DOCTOR_TOOLS),
    ("POST", f"{API_PREFIX}/templates", FN_DOCTOR_TOOLS),
    ("PUT", f"{API_PREFIX}/templates/{{templateId}}", FN_DOCTOR_TOOLS),
    ("DELETE", f"{API_PREFIX}/templates/{{templateId}}", FN_DOCTOR_TOOLS),
    ("GET", f"{API_PREFIX}/analytics", FN_DOCTOR_TOOLS),
)
HEALTH_ROUTE: Final = ("GET", "/health", FN_PRESENCE)  # public: no token

LAMBDA_MEMORY_MB: Final = 512
LAMBDA_TIMEOUT_SECONDS: Final = 29  # API Gateway's integration limit is 30 s
RELAY_TIMEOUT_SECONDS: Final = 50  # finishes before the next one-minute tick
RELAY_SCHEDULE_MINUTES: Final = 1
PURGE_TIMEOUT_SECONDS: Final = 900  # Lambda's limit; the purge resumes the next day
PURGE_SCHEDULE_HOURS: Final = 24
# Scheduled messages (issue #16 B): sent within a minute of their time; a run ends before the
# next tick, and a claim's lease (SCHEDULED_LEASE_SECONDS, 120 s) outlives any run.
SCHEDULED_SENDER_MINUTES: Final = 1
SCHEDULED_SENDER_TIMEOUT_SECONDS: Final = 50
API_THROTTLE_RATE: Final = 100  # steady requests per second on the stage
API_THROTTLE_BURST: Final = 200
# GET /health is throttled on its own at the stage (anonymous probes never spend users' share).
HEALTH_THROTTLE_RATE: Final = 5
HEALTH_THROTTLE_BURST: Final = 10

# --- AWS WAF (infra/constructs/waf.py) --------------------------------------------------------
WAF_RATE_WINDOW_SECONDS: Final = 300
# Requests per IP per window: a hospital's NAT puts many users behind one address; websocket
# frames are not requests (only the upgrade is), long-polling counts one per poll.
WAF_RATE_PER_IP: Final = 3000
WAF_HEALTH_RATE_PER_IP: Final = 100

# --- Socket tier -----------------------------------------------------------------------------
SOCKET_PORT: Final = 3006
HEALTH_PATH: Final = "/health"
# The one-origin CloudFront distribution (infra/constructs/edge.py).
EDGE_API_PATH: Final = "/api/*"
EDGE_SOCKET_PATH: Final = "/socket.io/*"
EDGE_SOCKET_READ_TIMEOUT_SECONDS: Final = 60  # above a long-poll (25 s ping interval)
# Socket.IO pings every 25 s and waits 20 s: the ALB must keep an idle socket open longer.
ALB_IDLE_TIMEOUT_SECONDS: Final = 120
SOCKET_CPU: Final = 512
SOCKET_MEMORY_MB: Final = 1024
SOCKET_MIN_TASKS: Final = 2
SOCKET_MAX_TASKS: Final = 10
SOCKET_CPU_TARGET_PERCENT: Final = 60
STICKY_SESSION_HOURS: Final = 1

# --- Data tier -------------------------------------------------------------------------------
MONGODB_DB_NAME: Final = "esante-messaging"
DOCDB_CLUSTER_NAME: Final = "esante-messaging"
DOCDB_MASTER_USER: Final = "esante"  # administration only: granted to nothing serving traffic
# The application's own user: readWrite on MONGODB_DB_NAME only, created once (deploy.md), its
# password in its own secret, rotated by Secrets Manager (multi-user: it alternates with
# `<name>_clone`, so the previous password keeps working while processes pick up the new one).
DOCDB_APP_USER: Final = "esante_app"
DOCDB_APP_USER_ROTATION_DAYS: Final = 30
# Amazon's RDS/DocumentDB CA bundle: fetched at build time (scripts/build_lambda.sh and the
# socket Dockerfile) from its documented URL, shipped in the layer and the image.
RDS_CA_BUNDLE_URL: Final = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
RDS_CA_BUNDLE_LAMBDA_PATH: Final = "/opt/python/certs/rds-global-bundle.pem"  # in the layer
RDS_CA_BUNDLE_IMAGE_PATH: Final = "/app/certs/rds-global-bundle.pem"  # in the socket image
DOCDB_PORT: Final = 27117  # not the default 27017: trims drive-by scans (AwsSolutions-DOC2)
MONGODB_DEFAULT_PORT: Final = 27017  # an existing MongoDB (context mongodbUriSecretArn)
DOCDB_INSTANCES: Final = 2
REDIS_PORT: Final = 6380  # not the default 6379 (AwsSolutions-AEC5)
REDIS_REPLICATION_GROUP_ID: Final = "esante-messaging-redis"
REDIS_NODE_TYPE: Final = "cache.t4g.small"
REDIS_ENGINE_VERSION: Final = "7.1"
REDIS_SNAPSHOT_RETENTION_DAYS: Final = 15
MSK_CLUSTER_NAME: Final = "esante-messaging"
# Topics are the event types themselves (message.sent, ...), as the original's consumers
# subscribe to them; a prefix (context kafkaTopicPrefix) is an option, off by default.
DEFAULT_KAFKA_TOPIC_PREFIX: Final = ""
KAFKA_TOPIC_FAMILY: Final = "message."  # every event type the service publishes starts so
# The access audit trail's topic (issue #15): written by the same producers, read into the
# audit archive.
KAFKA_AUDIT_TOPIC: Final = "audit.access"
KAFKA_IAM_PORT: Final = 9098
ATTACHMENTS_PREFIX: Final = "messages/"  # upload keys: what presigned POST policies name
# Confirmed files: send-file copies a checked upload here, and messages reference only these.
# The bucket policy denies PutObject here to every principal but the confirming role, whose
# name is fixed so that the data stack can name it without a reference to the compute stack.
CONFIRMED_FILES_PREFIX: Final = "files/"
CONFIRMING_ROLE_NAME_PREFIX: Final = f"{APP_NAME}-confirm-files-"  # + region
UPLOAD_STATE_DELETED: Final = "deleted"
# Uploads are tagged state=pending by the presigned POST policy and re-tagged state=confirmed
# when the message that references them is accepted; the rest expire after a day.
UPLOAD_STATE_TAG: Final = "state"
UPLOAD_STATE_PENDING: Final = "pending"
UPLOAD_STATE_CONFIRMED: Final = "confirmed"
PENDING_UPLOAD_EXPIRY_DAYS: Final = 1
NONCURRENT_VERSION_EXPIRY_DAYS: Final = 30

# Characters that would have to be percent-encoded in a mongodb:// URI or break a Redis AUTH.
URI_UNSAFE_PASSWORD_CHARS: Final = " \"'`@/:?#[]%&+=\\;,<>{}|^$!*()~"

# --- Application settings: environment variable names (layers/messaging_core/config.py) -----
ENV_ENVIRONMENT: Final = "ENVIRONMENT"
ENV_MONGODB_URI_SECRET_ARN: Final = "MONGODB_URI_SECRET_ARN"
ENV_MONGODB_DB: Final = "MONGODB_DB"
ENV_MONGODB_TLS_CA_FILE: Final = "MONGODB_TLS_CA_FILE"
ENV_JWT_SECRET_ARN: Final = "JWT_SECRET_ARN"
ENV_JWT_ALGORITHM: Final = "JWT_ALGORITHM"
ENV_JWT_ISSUER: Final = "JWT_ISSUER"
ENV_JWT_AUDIENCE: Final = "JWT_AUDIENCE"
ENV_JWT_MAX_LIFETIME_SECONDS: Final = "JWT_MAX_LIFETIME_SECONDS"
ENV_JWT_JWKS_URL: Final = "JWT_JWKS_URL"
ENV_REDIS_URL: Final = "REDIS_URL"
ENV_REDIS_AUTH_SECRET_ARN: Final = "REDIS_AUTH_SECRET_ARN"
ENV_KAFKA_BROKER: Final = "KAFKA_BROKER"
ENV_KAFKA_SECURITY: Final = "KAFKA_SECURITY"
ENV_KAFKA_TOPIC_PREFIX: Final = "KAFKA_TOPIC_PREFIX"
ENV_AWS_S3_BUCKET: Final = "AWS_S3_BUCKET"
ENV_AUDIT_ARCHIVE_BUCKET: Final = "AUDIT_ARCHIVE_BUCKET"  # the relay only (issue #15)
ENV_S3_SSE_KMS_KEY_ID: Final = "S3_SSE_KMS_KEY_ID"
ENV_FRONTEND_URL: Final = "FRONTEND_URL"
ENV_USER_SERVICE_URL: Final = "USER_SERVICE_URL"
ENV_NOTIFICATION_SERVICE_URL: Final = "NOTIFICATION_SERVICE_URL"
ENV_MAX_FILE_SIZE: Final = "MAX_FILE_SIZE"
ENV_MAX_MESSAGE_LENGTH: Final = "MAX_MESSAGE_LENGTH"
ENV_MESSAGES_PER_PAGE: Final = "MESSAGES_PER_PAGE"
ENV_POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENV_POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
ENV_LOG_LEVEL: Final = "LOG_LEVEL"
ENV_PORT: Final = "PORT"
ENV_AWS_REGION: Final = "AWS_REGION"  # set by Lambda itself; given explicitly to the tasks

ENVIRONMENT_PRODUCTION: Final = "production"
KAFKA_SECURITY_IAM: Final = "iam"
MAX_FILE_SIZE_BYTES: Final = 10 * 1024 * 1024
MAX_MESSAGE_LENGTH_CHARS: Final = 5000
MESSAGES_PER_PAGE_DEFAULT: Final = 50
LOG_LEVEL_DEFAULT: Final = "INFO"

# --- Observability ---------------------------------------------------------------------------
# Service and metric names come from the one module the functions read them from too (the
# relay publishes OutboxPending through Powertools Metrics, which adds the `service` dimension).
METRIC_SERVICE_DIMENSION: Final = "service"
OUTBOX_PENDING_THRESHOLD: Final = 100
API_5XX_RATE_THRESHOLD_PERCENT: Final = 5
REDIS_MEMORY_THRESHOLD_PERCENT: Final = 80
DASHBOARD_NAME: Final = "EsanteMessaging"

# --- Outputs ---------------------------------------------------------------------------------
OUTPUT_SERVICE_URL: Final = "ServiceUrl"  # the one origin: REST and Socket.IO
OUTPUT_API_URL: Final = "ApiUrl"
OUTPUT_SOCKET_URL: Final = "SocketUrl"
OUTPUT_BUCKET: Final = "AttachmentsBucketName"
OUTPUT_ALARM_TOPIC: Final = "AlarmTopicArn"

# --- CloudFront as the only way in (#11, infra/constructs/origin_guard.py) -------------------
ENV_ORIGIN_VERIFY_SECRET_ARN: Final = "ORIGIN_VERIFY_SECRET_ARN"
ORIGIN_VERIFY_SECRET_LENGTH: Final = 48
# AWS's managed list of CloudFront's origin-facing addresses; its id differs per region.
CLOUDFRONT_ORIGIN_PREFIX_LIST: Final = "com.amazonaws.global.cloudfront.origin-facing"
CTX_CLOUDFRONT_PREFIX_LIST_ID: Final = "cloudfrontPrefixListId"  # skips the deploy-time lookup
ALB_ORIGIN_RULE_PRIORITY: Final = 1
ALB_DIRECT_ACCESS_BODY: Final = '{"message": "Direct access is not allowed: use the service URL"}'
# --- Lambda SnapStart (issue #19) ------------------------------------------------------------
# The alias API Gateway invokes on each REST function (its current published version).
SNAPSTART_ALIAS: Final = "live"
# --- The operator Lambda (issue #15): its name, for `aws lambda invoke` ---------------------
OUTPUT_OPERATOR_FUNCTION: Final = "OperatorFunctionName"
# --- Socket-tier metrics on Fargate (#17, infra/constructs/emf_agent.py) ----------------------
# The CloudWatch agent as a sidecar of the socket task, listening for EMF on its default port;
# the socket container sends there (socket_tier/emf_agent.py) and the agent writes the documents
# to a log group of ours, where CloudWatch extracts the metrics.
ENV_EMF_AGENT_ENDPOINT: Final = "EMF_AGENT_ENDPOINT"
ENV_EMF_LOG_GROUP: Final = "EMF_LOG_GROUP"
ENV_CW_CONFIG_CONTENT: Final = "CW_CONFIG_CONTENT"  # the agent image reads its config from it
EMF_AGENT_PORT: Final = 25888
EMF_AGENT_ENDPOINT: Final = f"tcp://127.0.0.1:{EMF_AGENT_PORT}"  # same task: shared loopback
# Pin a digest for production deploys (`cdk.json` context or here); the tag is AWS's own.
EMF_AGENT_IMAGE: Final = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest"
EMF_AGENT_CONFIG: Final = {"logs": {"metrics_collected": {"emf": {}}}}
EMF_AGENT_MEMORY_RESERVATION_MB: Final = 64
