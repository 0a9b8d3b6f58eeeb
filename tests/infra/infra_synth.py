"""Synthesis for the infra tests (the fixtures in conftest.py call it once per session).

No network, Docker or AWS credentials: Lambda code comes from placeholder build dirs, and the
socket image's build context is only staged (copied), never built.
"""

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# jsii prints a banner for Node majors it no longer supports (value: the majors to silence);
# it says nothing about our code.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the CDK app is imported as the `infra` package of the repo
    sys.path.insert(0, str(REPO))

from aws_cdk import App, Stack  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra import constants as c  # noqa: E402
from infra.app import build_app  # noqa: E402


@dataclass
class Synth:
    app: App
    data: Stack
    compute: Stack
    data_template: Template
    compute_template: Template
    outdir: Path

    @property
    def data_json(self) -> dict[str, Any]:
        return dict(self.data_template.to_json())

    @property
    def compute_json(self) -> dict[str, Any]:
        return dict(self.compute_template.to_json())


def cdk_json_context() -> dict[str, Any]:
    """The context `cdk synth` would use: the tests check what would be deployed."""
    with open(REPO / "cdk.json", encoding="utf-8") as fh:
        return dict(json.load(fh)["context"])


def _placeholder_build(root: Path) -> Path:
    build = root / "build"
    (build / c.BUILD_LAYER_SUBDIR / "python").mkdir(parents=True)
    (build / c.BUILD_LAYER_SUBDIR / "python" / "placeholder.txt").write_text("layer\n")
    (build / c.BUILD_FUNCTIONS_SUBDIR / "functions").mkdir(parents=True)
    (build / c.BUILD_FUNCTIONS_SUBDIR / "functions" / "__init__.py").write_text("")
    return build


def _asset_root(root: Path) -> Path:
    """The repo itself when the socket Dockerfile exists; else a temp copy with a placeholder."""
    if (REPO / c.SOCKET_DOCKERFILE).is_file():
        return REPO
    copy = root / "repo"
    ignore = shutil.ignore_patterns(*c.DOCKER_EXCLUDES, "__pycache__", "docs", "bench")
    shutil.copytree(REPO, copy, ignore=ignore)
    dockerfile = copy / c.SOCKET_DOCKERFILE
    dockerfile.parent.mkdir(parents=True, exist_ok=True)
    dockerfile.write_text("# placeholder for tests/infra: the real one is socket_tier/Dockerfile\n")
    return copy


def synthesize(root: Path, extra_context: dict[str, Any] | None = None) -> Synth:
    context = cdk_json_context()
    context.update(
        {
            c.CTX_BUILD_DIR: str(_placeholder_build(root)),
            c.CTX_ASSET_ROOT: str(_asset_root(root)),
            # The default synth has no certificate: it stands for a test account.
            c.CTX_ALLOW_PLAIN_HTTP: "true",
        }
    )
    context.update(extra_context or {})
    outdir = root / "cdk.out"
    app = build_app(context, outdir=str(outdir))
    app.synth()
    data = app.node.find_child(c.DATA_STACK_NAME)
    compute = app.node.find_child(c.COMPUTE_STACK_NAME)
    assert isinstance(data, Stack)
    assert isinstance(compute, Stack)
    return Synth(
        app=app,
        data=data,
        compute=compute,
        data_template=Template.from_stack(data),
        compute_template=Template.from_stack(compute),
        outdir=outdir,
    )


# Every optional branch at once: OIDC tokens, topic prefix, HTTPS, existing MongoDB, given brokers.
ALT_CONTEXT = {
    c.CTX_REGION: "eu-central-1",
    c.CTX_ACCOUNT: "111111111111",
    c.CTX_OIDC_ISSUER: "https://auth.example.org/",
    c.CTX_OIDC_AUDIENCE: "esante-messaging",
    c.CTX_CERTIFICATE_ARN: "arn:aws:acm:eu-central-1:111111111111:certificate/abc",
    c.CTX_SOCKET_ORIGIN_DOMAIN: "socket.example.org",
    c.CTX_MONGODB_URI_SECRET_ARN: (
        "arn:aws:secretsmanager:eu-central-1:111111111111:secret:mongodb-uri-AbCdEf"
    ),
    c.CTX_KAFKA_BOOTSTRAP: "b-1.example.kafka.eu-central-1.amazonaws.com:9098",
    c.CTX_FRONTEND_URL: "https://app.example.org,https://admin.example.org",
    c.CTX_USER_SERVICE_URL: "https://users.example.org",
    c.CTX_ALARM_EMAIL: "ops@example.org",
    c.CTX_KAFKA_TOPIC_PREFIX: "esante.",
    # CloudFront as the only way in (#11): a known prefix list id skips the deploy-time lookup.
    c.CTX_CLOUDFRONT_PREFIX_LIST_ID: "pl-0123456789abcdef0",
}
