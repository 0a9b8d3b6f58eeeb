"""CDK assertions on the synthesized stacks: what the deploy guide and the design promise."""

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match
from infra_synth import ALT_CONTEXT, Synth, cdk_json_context

from infra import constants as c
from infra.settings import BuildMissingError, DeploySettings

DATA_PLANE_PREFIXES = ("s3:", "kms:", "secretsmanager:", "kafka-cluster:", "kafka:", "dynamodb:")


# --- helpers ---------------------------------------------------------------------------------
def resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, statement) of every identity policy: AWS::IAM::Policy and inline role ones."""
    out = []
    for lid, res in resources(template, "AWS::IAM::Policy").items():
        for st in res["Properties"]["PolicyDocument"]["Statement"]:
            out.append((lid, st))
    for lid, res in resources(template, "AWS::IAM::Role").items():
        for policy in res["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                out.append((lid, st))
    return out


# CDK's own custom-resource provider (the cross-region reader of the WAF ACL's ARN, issue #11):
# not one of the service's functions.
CDK_PROVIDER_HANDLER = "__entrypoint__.handler"


def functions_by_handler(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        res["Properties"]["Handler"]: (lid, res)
        for lid, res in resources(template, "AWS::Lambda::Function").items()
        if res["Properties"]["Handler"] != CDK_PROVIDER_HANDLER
    }


def role_actions(template: dict[str, Any], role_logical_id: str) -> set[str]:
    """Every action granted to one role through the AWS::IAM::Policy resources attached to it."""
    actions: set[str] = set()
    for res in resources(template, "AWS::IAM::Policy").values():
        roles = res["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                actions.update(as_list(st["Action"]))
    return actions


def function_role(fn: dict[str, Any]) -> str:
    return str(fn["Properties"]["Role"]["Fn::GetAtt"][0])


def handler_actions(synth: Synth, module: str) -> set[str]:
    template = synth.compute_json
    _, fn = functions_by_handler(template)[c.handler_of(module)]
    return role_actions(template, function_role(fn))


# --- whole app -------------------------------------------------------------------------------
def test_whole_app_synthesizes_both_stacks_in_paris(synth: Synth) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    stacks = {
        k: v for k, v in manifest["artifacts"].items() if v["type"] == "aws:cloudformation:stack"
    }
    # Plus the small us-east-1 stack of the CLOUDFRONT-scope web ACL (issue #11)
    assert set(stacks) == {c.DATA_STACK_NAME, c.COMPUTE_STACK_NAME, c.EDGE_WAF_STACK_NAME}
    assert synth.data.region == "eu-west-3"
    assert synth.compute.region == "eu-west-3"
    # Stateless compute depends on stateful data, never the reverse.
    assert c.DATA_STACK_NAME in stacks[c.COMPUTE_STACK_NAME].get("dependencies", [])
    assert c.COMPUTE_STACK_NAME not in stacks[c.DATA_STACK_NAME].get("dependencies", [])


@pytest.mark.parametrize("which", ["data", "compute"])
def test_cdk_nag_has_no_unsuppressed_errors(synth: Synth, which: str) -> None:
    stack = synth.data if which == "data" else synth.compute
    errors = Annotations.from_stack(stack).find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*|HIPAA.*")
    )
    assert errors == [], "\n".join(f"{e.id}: {e.entry.data}" for e in errors)


@pytest.mark.parametrize("which", ["data", "compute"])
def test_cdk_nag_clean_with_every_optional_context(synth_alt: Synth, which: str) -> None:
    stack = synth_alt.data if which == "data" else synth_alt.compute
    errors = Annotations.from_stack(stack).find_error(
        "*", Match.string_like_regexp("AwsSolutions-.*|HIPAA.*")
    )
    assert errors == [], "\n".join(f"{e.id}: {e.entry.data}" for e in errors)


def test_every_nag_suppression_has_a_reason(synth: Synth, synth_alt: Synth) -> None:
    for s in (synth, synth_alt):
        for template in (s.data_json, s.compute_json):
            for lid, res in template["Resources"].items():
                for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                    assert len(rule.get("reason", "")) >= 40, (lid, rule)


def test_missing_build_output_fails_with_a_clear_message(tmp_path: Path) -> None:
    from aws_cdk import App

    app = App(context={c.CTX_BUILD_DIR: str(tmp_path / "nowhere")})
    settings = DeploySettings.from_context(app.node)
    with pytest.raises(BuildMissingError, match="make build"):
        settings.check_build()


def test_cdk_json_runs_the_app_with_the_infra_venv() -> None:
    cdk = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())
    assert cdk["app"] == ".venv-infra/bin/python infra/app.py"
    assert cdk_json_context()[c.CTX_REGION] == c.DEFAULT_REGION


# --- REST ------------------------------------------------------------------------------------
def test_a_route_for_every_endpoint_to_its_function(synth: Synth) -> None:
    t = synth.compute_json
    routes = resources(t, "AWS::ApiGatewayV2::Route")
    integrations = resources(t, "AWS::ApiGatewayV2::Integration")
    fn_ids = {
        lid: res["Properties"]["Handler"]
        for lid, res in resources(t, "AWS::Lambda::Function").items()
    }
    by_key = {r["Properties"]["RouteKey"]: r["Properties"] for r in routes.values()}

    expected = [*c.ROUTES, c.HEALTH_ROUTE]
    assert len(routes) == len(expected)
    for method, path, module in expected:
        route = by_key[f"{method} {path}"]
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]
        # Issue #19: API Gateway invokes each function's SnapStart alias (a Ref to it).
        alias = resources(t, "AWS::Lambda::Alias")[uri["Ref"]]
        fn_id = alias["Properties"]["FunctionName"]["Ref"]
        assert fn_ids[fn_id] == c.handler_of(module), (method, path)


@pytest.mark.parametrize("which", ["default", "oidc"])
def test_no_edge_authorizer_so_a_refused_token_is_the_functions_401(
    synth: Synth, synth_alt: Synth, which: str
) -> None:
    # An API Gateway authorizer turns a refused token into 403 {"message": "Forbidden"} (Lambda)
    # or its own 401 text (JWT); a client of the original refreshes only on the original's 401s,
    # so every route, in every configuration, reaches its function, which answers them.
    t = (synth if which == "default" else synth_alt).compute_json
    assert resources(t, "AWS::ApiGatewayV2::Authorizer") == {}
    routes = resources(t, "AWS::ApiGatewayV2::Route")
    assert len(routes) == len(c.ROUTES) + 1
    for route in routes.values():
        props = route["Properties"]
        assert props.get("AuthorizationType", "NONE") == "NONE", props["RouteKey"]
        assert "AuthorizerId" not in props, props["RouteKey"]
    assert "functions.authorizer.handler" not in functions_by_handler(t)


def test_oidc_issuer_configures_the_functions_own_check(synth_alt: Synth) -> None:
    t = synth_alt.compute_json
    for name in c.API_FUNCTIONS:
        _, fn = functions_by_handler(t)[c.handler_of(name)]
        env = fn["Properties"]["Environment"]["Variables"]
        assert env[c.ENV_JWT_ALGORITHM] == "RS256", name
        assert env[c.ENV_JWT_ISSUER] == "https://auth.example.org/", name
        assert env[c.ENV_JWT_AUDIENCE] == "esante-messaging", name
        assert env[c.ENV_JWT_JWKS_URL] == "https://auth.example.org/.well-known/jwks.json", name


def test_stage_is_throttled_and_logged_and_cors_allows_the_frontend(
    synth: Synth, synth_alt: Synth
) -> None:
    t = synth.compute_template
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": c.API_THROTTLE_RATE,
                "ThrottlingBurstLimit": c.API_THROTTLE_BURST,
            },
            "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
        },
    )
    # No frontendUrl: no CORS at all (no localhost fallback in a deployment)
    [api] = resources(synth.compute_json, "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]
    # Named origins only, and no credentials: bearer tokens need no cookies
    synth_alt.compute_template.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {
            "ProtocolType": "HTTP",
            "CorsConfiguration": Match.object_like(
                {
                    "AllowOrigins": ["https://app.example.org", "https://admin.example.org"],
                    "AllowCredentials": False,
                }
            ),
        },
    )


def test_functions_are_python312_arm64_in_the_vpc_each_with_its_own_role(synth: Synth) -> None:
    t = synth.compute_json
    fns = functions_by_handler(t)
    expected = {c.handler_of(name) for name in c.ALL_FUNCTIONS}
    assert set(fns) == expected
    roles = set()
    layer_ids = set(resources(t, "AWS::Lambda::LayerVersion"))
    assert len(layer_ids) == 1
    for handler, (_, fn) in fns.items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.12", handler
        assert props["Architectures"] == ["arm64"], handler
        assert props["VpcConfig"]["SubnetIds"], handler
        assert props["VpcConfig"]["SecurityGroupIds"], handler
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert [layer["Ref"] for layer in props["Layers"]] == list(layer_ids)
        roles.add(function_role(fn))
    assert len(roles) == len(fns)  # one role per function


def test_functions_run_in_private_subnets(synth: Synth) -> None:
    t = synth.compute_json
    for _, fn in functions_by_handler(t).values():
        for subnet in fn["Properties"]["VpcConfig"]["SubnetIds"]:
            assert "appSubnet" in json.dumps(subnet)  # PRIVATE_WITH_EGRESS, never public


def test_relay_runs_every_minute(synth: Synth) -> None:
    t = synth.compute_json
    lid, _ = functions_by_handler(t)[c.handler_of(c.FN_RELAY)]
    # (the daily purge of issue #15 has its own rule: tests/infra/test_infra_compliance.py)
    rules = [
        r["Properties"]
        for r in resources(t, "AWS::Events::Rule").values()
        if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [lid, "Arn"]}
    ]
    assert len(rules) == 1
    assert rules[0]["ScheduleExpression"] == "rate(1 minute)"


# --- configuration and secrets -----------------------------------------------------------------
REQUIRED_ENV = {
    c.ENV_ENVIRONMENT,
    c.ENV_MONGODB_URI_SECRET_ARN,
    c.ENV_MONGODB_DB,
    c.ENV_JWT_SECRET_ARN,
    c.ENV_JWT_ISSUER,
    c.ENV_JWT_AUDIENCE,
    c.ENV_JWT_MAX_LIFETIME_SECONDS,
    c.ENV_REDIS_URL,
    c.ENV_REDIS_AUTH_SECRET_ARN,
    c.ENV_KAFKA_BROKER,
    c.ENV_KAFKA_SECURITY,
    c.ENV_KAFKA_TOPIC_PREFIX,
    c.ENV_AWS_S3_BUCKET,
    c.ENV_MAX_FILE_SIZE,
    c.ENV_MAX_MESSAGE_LENGTH,
    c.ENV_MESSAGES_PER_PAGE,
    c.ENV_POWERTOOLS_SERVICE_NAME,
    c.ENV_POWERTOOLS_METRICS_NAMESPACE,
    c.ENV_LOG_LEVEL,
}


def _container_env(t: dict[str, Any]) -> dict[str, Any]:
    task = next(iter(resources(t, "AWS::ECS::TaskDefinition").values()))
    container = task["Properties"]["ContainerDefinitions"][0]
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


def test_app_processes_get_the_shared_settings(synth: Synth) -> None:
    t = synth.compute_json
    for name in (*c.API_FUNCTIONS, c.FN_RELAY):
        _, fn = functions_by_handler(t)[c.handler_of(name)]
        env = fn["Properties"]["Environment"]["Variables"]
        assert set(env) >= REQUIRED_ENV, (name, REQUIRED_ENV - set(env))
        assert env[c.ENV_ENVIRONMENT] == "production"
        assert env[c.ENV_KAFKA_SECURITY] == "iam"
        assert env[c.ENV_POWERTOOLS_METRICS_NAMESPACE] == "ESanteMessaging"
        assert env[c.ENV_REDIS_URL]["Fn::Join"][1][0] == "rediss://"
    container_env = _container_env(t)
    assert set(container_env) >= REQUIRED_ENV
    assert container_env[c.ENV_PORT] == str(c.SOCKET_PORT)


def test_optional_service_urls_come_from_context(synth: Synth, synth_alt: Synth) -> None:
    _, fn = functions_by_handler(synth_alt.compute_json)[c.handler_of(c.FN_MESSAGES)]
    env = fn["Properties"]["Environment"]["Variables"]
    assert env[c.ENV_USER_SERVICE_URL] == "https://users.example.org"
    assert env[c.ENV_FRONTEND_URL] == "https://app.example.org,https://admin.example.org"
    _, fn = functions_by_handler(synth.compute_json)[c.handler_of(c.FN_MESSAGES)]
    assert c.ENV_USER_SERVICE_URL not in fn["Properties"]["Environment"]["Variables"]
    assert c.ENV_FRONTEND_URL not in fn["Properties"]["Environment"]["Variables"]


def test_every_process_checks_the_same_issuer_audience_and_lifetime(
    synth: Synth, synth_alt: Synth
) -> None:
    # Defaults when nothing is given; the OIDC issuer/audience when the stack is given them
    for s, issuer, audience in (
        (synth, c.DEFAULT_JWT_ISSUER, c.DEFAULT_JWT_AUDIENCE),
        (synth_alt, "https://auth.example.org/", "esante-messaging"),
    ):
        t = s.compute_json
        envs = [
            fn["Properties"]["Environment"]["Variables"]
            for name in (*c.API_FUNCTIONS, c.FN_RELAY)
            for _, fn in [functions_by_handler(t)[c.handler_of(name)]]
        ]
        envs.append(_container_env(t))
        for env in envs:
            assert env[c.ENV_JWT_ISSUER] == issuer
            assert env[c.ENV_JWT_AUDIENCE] == audience
            assert env[c.ENV_JWT_MAX_LIFETIME_SECONDS] == str(c.DEFAULT_JWT_MAX_LIFETIME_SECONDS)


def test_no_secret_value_in_any_environment(synth: Synth, synth_alt: Synth) -> None:
    for s in (synth, synth_alt):
        t = s.compute_json
        envs = [
            fn["Properties"].get("Environment", {}).get("Variables", {})
            for _, fn in functions_by_handler(t).values()
        ]
        envs.append(_container_env(t))
        for env in envs:
            assert "JWT_SECRET" not in env
            assert "MONGODB_URI" not in env
            dumped = json.dumps(env)
            assert "resolve:secretsmanager" not in dumped
            assert "SecretString" not in dumped
            assert "JwtSecret" in json.dumps(env.get(c.ENV_JWT_SECRET_ARN, "JwtSecret"))
        task = next(iter(resources(t, "AWS::ECS::TaskDefinition").values()))
        for container in task["Properties"]["ContainerDefinitions"]:
            assert "JWT_SECRET" not in {x["Name"] for x in container.get("Secrets", [])}


def test_jwt_secret_is_generated_in_secrets_manager_with_a_customer_key(synth: Synth) -> None:
    secrets = resources(synth.data_json, "AWS::SecretsManager::Secret")
    jwt = [s for lid, s in secrets.items() if lid.startswith("SecretsJwtSecret")]
    assert len(jwt) == 1
    assert "GenerateSecretString" in jwt[0]["Properties"]
    assert "SecretString" not in jwt[0]["Properties"]
    for secret in secrets.values():
        assert "KmsKeyId" in secret["Properties"]


# --- least privilege ---------------------------------------------------------------------------
def test_no_wildcard_resource_on_a_data_plane_action(synth: Synth, synth_alt: Synth) -> None:
    for s in (synth, synth_alt):
        for template in (s.data_json, s.compute_json):
            for lid, st in statements_of(template):
                actions = as_list(st["Action"])
                if any(a.startswith(DATA_PLANE_PREFIXES) for a in actions):
                    assert "*" not in as_list(st["Resource"]), (lid, st)
                    assert not any(a.endswith(":*") for a in actions), (lid, st)


def test_only_the_attachments_function_may_write_the_bucket(synth: Synth) -> None:
    writers = {
        name
        for name in c.ALL_FUNCTIONS
        if {"s3:PutObject", "kms:GenerateDataKey"} & handler_actions(synth, name)
    }
    # The relay's one write is the access audit archive, put-only under audit/ (issue #15,
    # tests/infra/test_infra_compliance.py): it writes nothing in the attachments bucket.
    assert writers == {c.FN_ATTACHMENTS, c.FN_RELAY}
    readers = {name for name in c.ALL_FUNCTIONS if "s3:GetObject" in handler_actions(synth, name)}
    # Message lists embed presigned GET URLs, which only work if the signer may read.
    assert readers == {c.FN_ATTACHMENTS, c.FN_MESSAGES}


def test_kafka_write_only_where_events_are_published(synth: Synth) -> None:
    producers = {
        name
        for name in c.ALL_FUNCTIONS
        if "kafka-cluster:WriteData" in handler_actions(synth, name)
    }
    # The purge publishes message.purged and its access records (issue #15); edits and
    # reactions publish message.edited / message.reaction (issue #16 part A); scheduled messages
    # (issue #16 B) publish audited list reads and the sender's message.sent.
    scheduled = {c.FN_SCHEDULED, c.FN_SCHEDULED_SENDER}
    assert producers == {
        c.FN_MESSAGES,
        c.FN_ATTACHMENTS,
        c.FN_RELAY,
        c.FN_PURGE,
        c.FN_MESSAGE_ACTIONS,
        *scheduled,
        c.FN_DOCTOR_TOOLS,  # the `audit.access` record of each analytics read (#17)
        c.FN_OPERATOR,  # a legal hold change's `audit.access` record, a manual purge's (#15)
    }
    # Topic writes are scoped to the service's topics (message.*) on its one cluster.
    for lid, st in statements_of(synth.compute_json):
        if "kafka-cluster:WriteData" in as_list(st["Action"]):
            assert ":topic/" in json.dumps(st["Resource"]), lid
            assert "/message.*" in json.dumps(st["Resource"]), lid


@pytest.mark.parametrize("which", ["default", "prefixed"])
def test_topics_are_the_originals_names_unless_a_prefix_is_asked(
    synth: Synth, synth_alt: Synth, which: str
) -> None:
    # The original's consumers subscribe to message.sent, message.delivered, message.read.
    s = synth if which == "default" else synth_alt
    prefix = "" if which == "default" else ALT_CONTEXT[c.CTX_KAFKA_TOPIC_PREFIX]
    for name in c.ALL_FUNCTIONS:
        _, fn = functions_by_handler(s.compute_json)[c.handler_of(name)]
        assert fn["Properties"]["Environment"]["Variables"][c.ENV_KAFKA_TOPIC_PREFIX] == prefix
    grants = [
        json.dumps(st["Resource"])
        for _, st in statements_of(s.data_json) + statements_of(s.compute_json)
        if "kafka-cluster:WriteData" in as_list(st["Action"])
    ]
    assert grants
    for grant in grants:
        assert f"/{prefix}message.*" in grant, grant


def _attachments_bucket(t: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    [(lid, bucket)] = [
        (k, v)
        for k, v in resources(t, "AWS::S3::Bucket").items()
        if k.startswith("StorageAttachments")
    ]
    return lid, bucket["Properties"]


def test_attachments_bucket_is_private_encrypted_and_tls_only(synth: Synth) -> None:
    t = synth.data_json
    lid, props = _attachments_bucket(t)
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in sse["ServerSideEncryptionByDefault"]
    assert "LoggingConfiguration" in props
    [policy] = [
        p
        for p in resources(t, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": lid}
    ]
    denies = [
        st
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
        if st["Effect"] == "Deny"
        and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denies


def test_unconfirmed_uploads_expire_after_a_day_by_tag(synth: Synth) -> None:
    _, props = _attachments_bucket(synth.data_json)
    rules = props["LifecycleConfiguration"]["Rules"]
    [pending] = [r for r in rules if r.get("TagFilters")]
    assert pending["TagFilters"] == [{"Key": "state", "Value": "pending"}]
    assert pending["ExpirationInDays"] == 1
    assert pending["Status"] == "Enabled"
    assert "Prefix" not in pending  # keys are messages/...: the tag, not a prefix, marks them


def test_bucket_cors_allows_post_and_get_from_the_frontend(synth: Synth, synth_alt: Synth) -> None:
    _, props = _attachments_bucket(synth.data_json)
    assert "CorsConfiguration" not in props  # no frontendUrl, no browser origin
    _, props = _attachments_bucket(synth_alt.data_json)
    [rule] = props["CorsConfiguration"]["CorsRules"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "POST"]
    assert rule["AllowedOrigins"] == ["https://app.example.org", "https://admin.example.org"]


def _bucket_policy(t: dict[str, Any], bucket_prefix: str) -> list[dict[str, Any]]:
    [lid] = [k for k in resources(t, "AWS::S3::Bucket") if k.startswith(bucket_prefix)]
    [policy] = [
        p
        for p in resources(t, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": lid}
    ]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_confirmed_files_are_writable_only_by_the_confirming_role(synth: Synth) -> None:
    # A verified file never changes under its message: PutObject on files/ is denied to
    # every principal but the attachments function's role (named, as another stack owns it).
    [deny] = [
        st
        for st in _bucket_policy(synth.data_json, "StorageAttachments")
        if st["Effect"] == "Deny" and "s3:PutObject" in as_list(st["Action"])
    ]
    assert deny["Principal"] == {"AWS": "*"}
    assert f"/{c.CONFIRMED_FILES_PREFIX}*" in json.dumps(deny["Resource"])
    allowed = json.dumps(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    assert f":role/{c.CONFIRMING_ROLE_NAME_PREFIX}" in allowed
    _, fn = functions_by_handler(synth.compute_json)[c.handler_of(c.FN_ATTACHMENTS)]
    role = synth.compute_json["Resources"][function_role(fn)]["Properties"]
    assert c.CONFIRMING_ROLE_NAME_PREFIX in json.dumps(role["RoleName"])
    # and no upload policy can name files/: presigned POST keys are messages/...
    assert c.CONFIRMED_FILES_PREFIX != c.ATTACHMENTS_PREFIX


def test_messages_role_may_tag_a_deleted_files_object_but_not_write_it(synth: Synth) -> None:
    actions = handler_actions(synth, c.FN_MESSAGES)
    assert "s3:PutObjectTagging" in actions
    assert not {"s3:PutObject", "s3:DeleteObject", "kms:GenerateDataKey"} & actions
    tagging = [
        json.dumps(st["Resource"])
        for lid, st in statements_of(synth.compute_json)
        if "s3:PutObjectTagging" in as_list(st["Action"]) and lid.startswith("MessagesFunction")
    ]
    assert tagging
    assert all(f"/{c.CONFIRMED_FILES_PREFIX}*" in r for r in tagging)


def test_access_logs_are_readable_only_by_the_audit_role(synth: Synth) -> None:
    t = synth.data_json
    [deny] = [
        st
        for st in _bucket_policy(t, "StorageAccessLogs")
        if st["Effect"] == "Deny" and "s3:GetObject" in as_list(st["Action"])
    ]
    assert deny["Principal"] == {"AWS": "*"}
    assert {"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"} <= set(deny["Action"])
    [(audit_lid, audit)] = [
        (k, v) for k, v in resources(t, "AWS::IAM::Role").items() if k.startswith("StorageLogAudit")
    ]
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == {
        "Fn::GetAtt": [audit_lid, "Arn"]
    }
    # assumed by people with MFA, never by a service that handles traffic
    [assume] = audit["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    assert "Service" not in assume["Principal"]
    # no function or task role of the compute stack reads the log bucket
    for lid, st in statements_of(synth.compute_json):
        assert "AccessLogs" not in json.dumps(st["Resource"]) or "s3:GetObject" not in as_list(
            st["Action"]
        ), lid


def test_redis_is_encrypted_in_transit_and_at_rest_with_auth(synth: Synth) -> None:
    [redis] = resources(synth.data_json, "AWS::ElastiCache::ReplicationGroup").values()
    props = redis["Properties"]
    assert props["TransitEncryptionEnabled"] is True
    assert props["AtRestEncryptionEnabled"] is True
    assert "KmsKeyId" in props
    assert "resolve:secretsmanager" in json.dumps(props["AuthToken"])
    assert props["MultiAZEnabled"] is True


def test_msk_serverless_uses_iam_auth_over_tls(synth: Synth) -> None:
    [cluster] = resources(synth.data_json, "AWS::MSK::ServerlessCluster").values()
    props = cluster["Properties"]
    # MSK Serverless accepts IAM-authenticated clients on TLS (9098) only.
    assert props["ClientAuthentication"] == {"Sasl": {"Iam": {"Enabled": True}}}
    assert resources(synth.data_json, "Custom::AWS")  # bootstrap look-up


def test_kafka_bootstrap_from_context_skips_the_lookup(synth_alt: Synth) -> None:
    assert not resources(synth_alt.data_json, "Custom::AWS")
    _, fn = functions_by_handler(synth_alt.compute_json)[c.handler_of(c.FN_RELAY)]
    env = fn["Properties"]["Environment"]["Variables"]
    assert env[c.ENV_KAFKA_BROKER] == "b-1.example.kafka.eu-central-1.amazonaws.com:9098"


def test_documentdb_is_encrypted_and_apps_use_their_own_rotated_user(synth: Synth) -> None:
    # Was: one MONGODB_URI secret built from the master password (issue 12: least privilege).
    d = synth.data_json
    [cluster] = resources(d, "AWS::DocDB::DBCluster").values()
    assert cluster["Properties"]["StorageEncrypted"] is True
    assert cluster["Properties"]["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == "Snapshot"
    [params] = resources(d, "AWS::DocDB::DBClusterParameterGroup").values()
    assert params["Properties"]["Parameters"]["tls"] == "enabled"
    # The application user's secret, in the multi-user rotation format, rotated every 30 days.
    [(app_lid, app)] = [
        (lid, s)
        for lid, s in resources(d, "AWS::SecretsManager::Secret").items()
        if lid.startswith("DatabaseAppUserSecret")
    ]
    generated = app["Properties"]["GenerateSecretString"]
    template = json.dumps(generated["SecretStringTemplate"])
    assert c.DOCDB_APP_USER in template
    assert "masterarn" in template
    assert "ssl" in template
    assert generated["GenerateStringKey"] == "password"
    [attachment_lid] = [
        lid
        for lid, a in resources(d, "AWS::SecretsManager::SecretTargetAttachment").items()
        if a["Properties"]["SecretId"] == {"Ref": app_lid}
    ]
    rotations = resources(d, "AWS::SecretsManager::RotationSchedule").values()
    rotated = [json.dumps(r["Properties"]["SecretId"]) for r in rotations]
    assert any(attachment_lid in r for r in rotated), rotated
    assert any("ClusterSecret" in r for r in rotated)  # the master rotates too: nobody reads it
    # no secret value in the template (the old URI secret embedded the master password)
    assert all(
        "SecretString" not in x["Properties"]
        for x in resources(d, "AWS::SecretsManager::Secret").values()
    )
    # Every process is given the app user's secret, and no compute role may read the master's.
    for _, fn in functions_by_handler(synth.compute_json).values():
        env = fn["Properties"]["Environment"]["Variables"]
        if c.ENV_MONGODB_URI_SECRET_ARN in env:
            assert "AppUserSecret" in json.dumps(env[c.ENV_MONGODB_URI_SECRET_ARN])
            assert env[c.ENV_MONGODB_TLS_CA_FILE] == c.RDS_CA_BUNDLE_LAMBDA_PATH
    for lid, st in statements_of(synth.compute_json):
        assert "ClusterSecret" not in json.dumps(st["Resource"]), lid


def test_database_rotations_run_where_they_reach_secrets_manager(synth: Synth) -> None:
    apps = resources(synth.data_json, "AWS::Serverless::Application")
    rotations = {lid: a["Properties"]["Parameters"] for lid, a in apps.items() if "Rotation" in lid}
    assert {
        lid.startswith(("DatabaseMasterRotation", "DatabaseAppUserRotation")) for lid in rotations
    } == {True}
    assert len(rotations) == 2
    for params in rotations.values():
        # the data subnets are isolated: a rotation there could never call Secrets Manager
        assert "appSubnet" in json.dumps(params["vpcSubnetIds"])
    [multi] = [p for lid, p in rotations.items() if lid.startswith("DatabaseAppUserRotation")]
    assert "masterSecretArn" in multi  # it logs in as master to set the alternate user


def test_the_tasks_verify_documentdb_tls_with_the_bundle_in_the_image(synth: Synth) -> None:
    [task] = resources(synth.compute_json, "AWS::ECS::TaskDefinition").values()
    # The socket container (the task also runs the CloudWatch agent sidecar, #17)
    [container] = [x for x in task["Properties"]["ContainerDefinitions"] if x["Name"] == "socket"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env[c.ENV_MONGODB_TLS_CA_FILE] == c.RDS_CA_BUNDLE_IMAGE_PATH
    dockerfile = (Path(__file__).resolve().parents[2] / c.SOCKET_DOCKERFILE).read_text()
    assert c.RDS_CA_BUNDLE_URL in dockerfile
    assert c.RDS_CA_BUNDLE_IMAGE_PATH in dockerfile
    build = (Path(__file__).resolve().parents[2] / "scripts" / "build_lambda.sh").read_text()
    assert c.RDS_CA_BUNDLE_URL in build
    assert "certs/rds-global-bundle.pem" in build


def test_documentdb_profiler_export_is_off_and_audit_is_the_only_export(synth: Synth) -> None:
    # The profiler logs whole commands: message content, search words, file names.
    d = synth.data_json
    [cluster] = resources(d, "AWS::DocDB::DBCluster").values()
    assert cluster["Properties"]["EnableCloudwatchLogsExports"] == ["audit"]
    [params] = resources(d, "AWS::DocDB::DBClusterParameterGroup").values()
    assert params["Properties"]["Parameters"]["profiler"] == "disabled"
    assert params["Properties"]["Parameters"]["audit_logs"] == "enabled"  # not dml_*/all
    groups = [json.dumps(g["Properties"]) for g in resources(d, "AWS::Logs::LogGroup").values()]
    assert not any("/profiler" in g for g in groups)


def test_profiler_export_only_with_the_explicit_opt_in(synth_profiler: Synth) -> None:
    d = synth_profiler.data_json
    [cluster] = resources(d, "AWS::DocDB::DBCluster").values()
    assert cluster["Properties"]["EnableCloudwatchLogsExports"] == ["audit", "profiler"]
    [params] = resources(d, "AWS::DocDB::DBClusterParameterGroup").values()
    assert params["Properties"]["Parameters"]["profiler"] == "enabled"


def test_existing_mongodb_secret_replaces_documentdb(synth_alt: Synth) -> None:
    assert not resources(synth_alt.data_json, "AWS::DocDB::DBCluster")
    _, fn = functions_by_handler(synth_alt.compute_json)[c.handler_of(c.FN_MESSAGES)]
    env = fn["Properties"]["Environment"]["Variables"]
    assert env[c.ENV_MONGODB_URI_SECRET_ARN] == ALT_CONTEXT[c.CTX_MONGODB_URI_SECRET_ARN]


def test_region_and_account_are_overridable_by_context(synth_alt: Synth) -> None:
    assert synth_alt.data.region == "eu-central-1"
    assert synth_alt.compute.account == "111111111111"


def test_network_has_private_subnets_and_an_s3_gateway_endpoint(synth: Synth) -> None:
    t = synth.data_json
    endpoints = resources(t, "AWS::EC2::VPCEndpoint")
    assert [e["Properties"].get("VpcEndpointType", "Gateway") for e in endpoints.values()] == [
        "Gateway"
    ]
    assert "s3" in json.dumps(next(iter(endpoints.values()))["Properties"]["ServiceName"])
    subnets = resources(t, "AWS::EC2::Subnet")
    assert len(subnets) == 6  # public, app (egress) and data (isolated) in two AZs
    for subnet in subnets.values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    assert resources(t, "AWS::EC2::FlowLog")


def test_only_the_alb_is_internet_facing(synth: Synth) -> None:
    [alb] = resources(synth.compute_json, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert alb["Properties"]["Scheme"] == "internet-facing"
    for template in (synth.data_json, synth.compute_json):
        for lid, rule in resources(template, "AWS::EC2::SecurityGroupIngress").items():
            assert rule["Properties"].get("CidrIp") != "0.0.0.0/0", lid
        for lid, group in resources(template, "AWS::EC2::SecurityGroup").items():
            for rule in group["Properties"].get("SecurityGroupIngress", []):
                if rule.get("CidrIp") == "0.0.0.0/0":
                    assert "Alb" in lid, lid
                    assert rule["FromPort"] in (80, 443), lid


# --- realtime tier -----------------------------------------------------------------------------
def test_fargate_service_is_behind_the_alb_with_health_check(synth: Synth) -> None:
    t = synth.compute_template
    t.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "LoadBalancers": [Match.object_like({"ContainerPort": c.SOCKET_PORT})],
            "NetworkConfiguration": {
                "AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})
            },
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": "/health",
            "Port": c.SOCKET_PORT,
            "TargetType": "ip",
            "TargetGroupAttributes": Match.array_with(
                [
                    {"Key": "stickiness.enabled", "Value": "true"},
                    {"Key": "stickiness.type", "Value": "lb_cookie"},
                ]
            ),
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "LoadBalancerAttributes": Match.array_with(
                [{"Key": "idle_timeout.timeout_seconds", "Value": "120"}]
            )
        },
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener", {"Port": 80, "Protocol": "HTTP"}
    )
    t.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    }
                }
            ),
        },
    )
    t.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {"RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}},
    )


def test_certificate_adds_https_and_redirects_http(synth_alt: Synth) -> None:
    t = synth_alt.compute_template
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 443, "Protocol": "HTTPS", "Certificates": [{"CertificateArn": Match.any_value()}]},
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "DefaultActions": [Match.object_like({"Type": "redirect"})],
        },
    )


def test_socket_image_is_staged_from_the_repo_root_without_local_junk(synth: Synth) -> None:
    assets = json.loads((synth.outdir / f"{c.COMPUTE_STACK_NAME}.assets.json").read_text())
    [image] = assets["dockerImages"].values()
    assert image["source"]["dockerFile"] == c.SOCKET_DOCKERFILE
    staged = synth.outdir / image["source"]["directory"]
    assert (staged / c.SOCKET_DOCKERFILE).is_file()
    names = {p.name for p in staged.iterdir()}
    assert not names & {".git", ".venv", ".venv-infra", "build", "cdk.out", "tests", ".cache"}


# --- operations ----------------------------------------------------------------------------------
def test_alarms_cover_api_functions_socket_redis_and_outbox(synth: Synth) -> None:
    t = synth.compute_json
    alarms = [a["Properties"] for a in resources(t, "AWS::CloudWatch::Alarm").values()]
    text = json.dumps(alarms)
    n_functions = len(c.ALL_FUNCTIONS)
    assert sum(a.get("MetricName") == "Errors" for a in alarms) == n_functions
    assert sum(a.get("MetricName") == "Throttles" for a in alarms) == n_functions
    assert "5xx" in text  # API 5xx rate math expression
    [tasks] = [a for a in alarms if a.get("MetricName") == "RunningTaskCount"]
    assert tasks["ComparisonOperator"] == "LessThanThreshold"
    assert tasks["Threshold"] == 1
    assert "DatabaseMemoryUsagePercentage" in text
    [outbox] = [a for a in alarms if a.get("MetricName") == c.METRIC_OUTBOX_PENDING]
    assert outbox["Namespace"] == c.METRICS_NAMESPACE
    assert outbox["Threshold"] == c.OUTBOX_PENDING_THRESHOLD
    for alarm in alarms:
        assert alarm["AlarmActions"], alarm.get("AlarmDescription")
    assert resources(t, "AWS::CloudWatch::Dashboard")


def test_log_groups_are_encrypted_and_kept_a_year(synth: Synth) -> None:
    for template in (synth.data_json, synth.compute_json):
        for lid, group in resources(template, "AWS::Logs::LogGroup").items():
            assert group["Properties"]["RetentionInDays"] == c.DEFAULT_LOG_RETENTION_DAYS, lid
            assert "KmsKeyId" in group["Properties"], lid


def test_outputs_give_the_api_and_socket_urls(synth: Synth) -> None:
    outputs = synth.compute_json["Outputs"]
    assert c.OUTPUT_API_URL in outputs
    assert c.OUTPUT_SOCKET_URL in outputs
    assert json.dumps(outputs[c.OUTPUT_SOCKET_URL]["Value"]).startswith('{"Fn::Join": [""')
    assert "http://" in json.dumps(outputs[c.OUTPUT_SOCKET_URL]["Value"])
