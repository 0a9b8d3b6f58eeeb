"""The API page: Swagger UI and ReDoc served by the service itself, and an OpenAPI document that
states the `{"message"}` errors the routes really answer (never FastAPI's 422)."""

import re
from typing import Any

import httpx
import pytest

from functions.local_app import create_local_app

# An absolute URL, or a protocol-relative one (`//cdn...`), in a src/href attribute.
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)


@pytest.fixture
async def http() -> Any:
    app = create_local_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_api_pages_load_every_asset_from_the_service(
    http: httpx.AsyncClient, page: str
) -> None:
    # Given the API page (a hospital network may have no internet)
    r = await http.get(page)
    assert r.status_code == 200, r.text
    html = r.text
    # Then nothing it loads lives on another host
    assert not EXTERNAL.search(html), EXTERNAL.findall(html)
    assert "cdn." not in html
    assert "fonts.googleapis" not in html
    if page == "/docs":  # else Swagger UI shows a badge loaded from validator.swagger.io
        assert '"validatorUrl": null' in html
    # And every script and stylesheet it names is served, non-empty, by the service
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+\.(?:js|css|png))["']""", html)
    assert any(a.endswith(".js") for a in assets), html
    for asset in assets:
        got = await http.get(asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 1000, asset


async def test_swagger_oauth2_redirect_is_served(http: httpx.AsyncClient) -> None:
    r = await http.get("/docs/oauth2-redirect")
    assert r.status_code == 200
    assert "oauth2" in r.text.lower()


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "delete"}
    ]


async def test_openapi_lists_message_errors_never_422(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    # No operation documents FastAPI's 422, and its schemas are gone
    for path, method, op in _operations(schema):
        assert "422" not in op["responses"], (method, path)
    components = schema.get("components", {}).get("schemas", {})
    assert "HTTPValidationError" not in components
    assert "ValidationError" not in components
    # The one error shape is {"message": string}
    error = components["ErrorReply"]
    assert error["required"] == ["message"]
    assert set(error["properties"]) == {"message"}


# What each route can answer besides success; mirrors the core's rules (tests/unit/
# test_rest_contract.py proves each code is really returned).
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("post", "/api/v1/messages/conversations"): {"400", "401", "403", "503"},
    ("get", "/api/v1/messages/conversations"): {"400", "401", "503"},
    ("get", "/api/v1/messages/conversations/{conversationId}/messages"): {
        "400", "401", "403", "404", "503"},
    ("post", "/api/v1/messages/conversations/{conversationId}/messages"): {
        "400", "401", "403", "404", "429", "503"},
    ("put", "/api/v1/messages/conversations/{conversationId}/mark-read"): {
        "400", "401", "403", "404", "503"},
    ("get", "/api/v1/messages/unread-count"): {"401", "503"},
    ("get", "/api/v1/messages/search"): {"400", "401", "403", "404", "503"},
    ("delete", "/api/v1/messages/{messageId}"): {"400", "401", "403", "404", "503"},
    ("post", "/api/v1/messages/conversations/{conversationId}/attachments"): {
        "400", "401", "403", "404", "503"},
    ("post", "/api/v1/messages/conversations/{conversationId}/send-file"): {
        "400", "401", "403", "404", "409", "413", "429", "503"},
    ("get", "/api/v1/messages/users/{userId}/online-status"): {"400", "401", "403", "503"},
}  # fmt: skip


async def test_openapi_documents_each_routes_real_errors(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/openapi.json")).json()
    ops = {(method, path): op for path, method, op in _operations(schema)}
    assert set(EXPECTED) <= set(ops)
    for key, codes in EXPECTED.items():
        documented = {c for c in ops[key]["responses"] if c.startswith(("4", "5"))}
        assert documented == codes | {"500"}, (key, documented)
        for code in documented:
            content = ops[key]["responses"][code]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorReply"}, (key, code)
    # Health needs no token: no 401 there
    assert "401" not in ops[("get", "/health")]["responses"]


async def test_production_serves_no_api_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import make_settings

    production = make_settings().model_copy(update={"environment": "production"})
    monkeypatch.setattr("functions.api.app.get_settings", lambda: production)
    app = create_local_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        for path in ("/docs", "/redoc", "/docs-assets/swagger-ui-bundle.js"):
            assert (await client.get(path)).status_code == 404, path
