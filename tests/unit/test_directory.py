"""User profiles: the user service with a short timeout and a cache, never failing a request."""

import asyncio

import httpx
from messaging_core.adapters.directory import EmbeddedDirectory, HttpUserDirectory
from messaging_core.models import UserProfile
from messaging_core.store.memory import MemoryStore

DOC = "673a1b2c3d4e5f6a7b8c9d0e"


def directory(handler: object, timeout: float = 0.2) -> tuple[HttpUserDirectory, list[str]]:
    calls: list[str] = []

    async def record(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return await handler(request)  # type: ignore[operator]

    embedded = EmbeddedDirectory(MemoryStore())
    d = HttpUserDirectory("http://users.test", embedded, timeout_seconds=timeout, ttl_seconds=60)
    d._client = httpx.AsyncClient(  # type: ignore[attr-defined]
        base_url="http://users.test", transport=httpx.MockTransport(record), timeout=timeout
    )
    return d, calls


async def test_profile_and_specialty_from_the_user_service_then_cached() -> None:
    async def service(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(f"/profile/{DOC}"):
            return httpx.Response(
                200, json={"data": {"firstName": "Sarah", "lastName": "Smith", "role": "doctor"}}
            )
        return httpx.Response(200, json={"data": {"specialty": "Cardiology"}})

    d, calls = directory(service)
    profile = await d.get_profile(DOC)
    assert profile == UserProfile(DOC, "doctor", "Sarah Smith", None, "Cardiology")
    await d.get_profile(DOC)
    assert calls == [f"/api/v1/users/profile/{DOC}", f"/api/v1/users/doctors/{DOC}"]


async def test_a_down_or_slow_service_falls_back_to_what_tokens_told_us() -> None:
    async def down(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    d, _ = directory(down)
    await d.remember(UserProfile(DOC, "doctor", "Dr. Sarah Smith"))
    assert (await d.get_profile(DOC)).name == "Dr. Sarah Smith"  # type: ignore[union-attr]

    never = asyncio.Event()  # never set: only the directory's own timeout ends the call
    answered: list[bool] = []

    async def slow(_request: httpx.Request) -> httpx.Response:
        await never.wait()
        answered.append(True)
        return httpx.Response(200, json={})

    d2, _ = directory(slow, timeout=0.05)
    assert await d2.get_profile(DOC) is None  # unknown, but no error
    assert answered == []  # the caller got its reply without the service ever answering


async def test_a_broken_answer_is_not_an_error() -> None:
    async def garbage(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="oops")

    d, _ = directory(garbage)
    assert await d.get_profile(DOC) is None
