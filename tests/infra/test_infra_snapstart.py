"""SnapStart on the REST functions (issue #19): published versions, an alias, and API Gateway
invoking that alias (a version's snapshot is only used when callers name the version)."""

from typing import Any

from infra_synth import Synth

from infra import constants as c


def resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def function_ids(template: dict[str, Any]) -> dict[str, str]:
    """Logical id of each service function, by module name."""
    by_handler = {
        res["Properties"]["Handler"]: lid
        for lid, res in resources(template, "AWS::Lambda::Function").items()
    }
    return {name: by_handler[c.handler_of(name)] for name in c.ALL_FUNCTIONS}


def test_rest_functions_snapshot_their_published_versions(synth: Synth) -> None:
    template = synth.compute_json
    fns = resources(template, "AWS::Lambda::Function")
    for name, lid in function_ids(template).items():
        snap = fns[lid]["Properties"].get("SnapStart")
        if name in c.API_FUNCTIONS:
            assert snap == {"ApplyOn": "PublishedVersions"}, name
        else:  # scheduled functions: no user waits on their cold start
            assert snap is None, name


def test_each_rest_function_has_a_live_alias_on_a_published_version(synth: Synth) -> None:
    template = synth.compute_json
    versions = resources(template, "AWS::Lambda::Version")
    aliases = resources(template, "AWS::Lambda::Alias")
    ids = function_ids(template)
    for name in c.API_FUNCTIONS:
        mine = [
            a for a in aliases.values() if a["Properties"]["FunctionName"] == {"Ref": ids[name]}
        ]
        assert len(mine) == 1, name
        alias = mine[0]["Properties"]
        assert alias["Name"] == c.SNAPSTART_ALIAS
        version_id = alias["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version_id]["Properties"]["FunctionName"] == {"Ref": ids[name]}


def test_api_gateway_invokes_the_aliases_never_latest(synth: Synth) -> None:
    template = synth.compute_json
    aliases = resources(template, "AWS::Lambda::Alias")
    ids = set(function_ids(template).values())
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    assert integrations
    for lid, res in integrations.items():
        uri = res["Properties"]["IntegrationUri"]
        assert uri.get("Ref") in aliases, (lid, uri)
    # API Gateway's permission to invoke names the alias too.
    for perm in resources(template, "AWS::Lambda::Permission").values():
        props = perm["Properties"]
        if props.get("Principal") != "apigateway.amazonaws.com":
            continue
        target = props["FunctionName"]
        assert target.get("Ref") in aliases, target
        assert target.get("Ref") not in ids
        assert "Fn::GetAtt" not in target
