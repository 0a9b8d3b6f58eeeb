"""CDK entry point: `cdk synth` / `cdk deploy --all` (cdk.json runs this with .venv-infra)."""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, Python puts infra/ first on sys.path, where infra/constructs/ would
    # shadow the `constructs` library: put the repository root there instead.
    _infra = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _infra]
    sys.path.insert(0, str(_infra.parent))
    # infra/constants.py takes the service and metric names from messaging_core/names.py.
    sys.path.insert(1, str(_infra.parent / "layers"))

import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Aspects, Environment, Tags
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks

from infra import constants as c
from infra.settings import DeploySettings
from infra.stacks.compute_stack import ComputeStack
from infra.stacks.data_stack import DataStack
from infra.stacks.edge_waf_stack import EdgeWafStack


def _build_data_stack(app: App, settings: DeploySettings, env: Environment) -> DataStack:
    return DataStack(
        app,
        c.DATA_STACK_NAME,
        settings=settings,
        env=env,
        description="E-Sante messaging: network, keys, secrets, bucket, DocumentDB, Redis, MSK",
        termination_protection=True,
    )


def _build_edge_waf_stack(app: App, settings: DeploySettings) -> EdgeWafStack:
    return EdgeWafStack(
        app,
        c.EDGE_WAF_STACK_NAME,
        settings=settings,
        # CloudFront takes only a web ACL made in us-east-1, whatever the service's region.
        env=Environment(account=settings.account, region=c.EDGE_WAF_REGION),
        description="E-Sante messaging: CLOUDFRONT-scope WAF web ACL (us-east-1)",
        # The ACL's ARN crosses to the compute region through CDK's generated SSM parameters.
        cross_region_references=True,
    )


def _build_compute_stack(
    app: App, settings: DeploySettings, env: Environment, data: DataStack, edge_waf: EdgeWafStack
) -> ComputeStack:
    return ComputeStack(
        app,
        c.COMPUTE_STACK_NAME,
        settings=settings,
        data=data,
        edge_web_acl_arn=edge_waf.web_acl_arn,
        env=env,
        description="E-Sante messaging: Lambda functions, HTTP API, Socket.IO on Fargate, alarms",
        cross_region_references=True,
    )


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    """The whole service: stateful data stack apart from stateless compute, checked by cdk-nag."""
    app = App(context=dict(context or {}), outdir=outdir)
    settings = DeploySettings.from_context(
        app.node, default_account=os.environ.get("CDK_DEFAULT_ACCOUNT")
    )
    settings.check_build()
    settings.check_tls()
    env = Environment(account=settings.account, region=settings.region)

    data = _build_data_stack(app, settings, env)
    edge_waf = _build_edge_waf_stack(app, settings)
    compute = _build_compute_stack(app, settings, env, data, edge_waf)
    compute.add_stack_dependency(data)
    compute.add_stack_dependency(edge_waf)

    for stack in (data, edge_waf, compute):
        Tags.of(stack).add("service", c.APP_NAME)
        Tags.of(stack).add("data-classification", "health")

    # Every resource is checked at synth; a finding fails unless suppressed with a reason.
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    Aspects.of(app).add(HIPAASecurityChecks(verbose=True))
    return app


def main() -> None:
    try:
        app = build_app()
    except RuntimeError as exc:  # BuildMissingError, PlainHttpError: what to do, no traceback
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    app.synth()


if __name__ == "__main__":
    main()
