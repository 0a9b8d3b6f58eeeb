"""The per-task cooldown of refused tokens: expiry on an injected clock, bounded size."""

import base64
import json

from messaging_core.auth import claimed_user_id, mint_token, verify_token

from socket_tier.cooldown import Cooldown, presented_token, token_key, user_key
from tests.conftest import make_settings


def test_a_punished_token_is_refused_until_its_time_is_up() -> None:
    now = [100.0]
    box = Cooldown(10.0, clock=lambda: now[0])
    key = token_key("abc")
    assert not box.refuses(key)
    box.punish(key)
    assert box.refuses(key)
    assert not box.refuses(token_key("another"))
    now[0] = 109.9
    assert box.refuses(key)
    now[0] = 110.0
    assert not box.refuses(key)
    assert len(box) == 0  # an expired entry is forgotten on sight


def test_the_key_is_a_digest_of_the_token_from_auth_or_header() -> None:
    key = token_key(presented_token({"token": "abc"}, None))
    assert key is not None
    assert b"abc" not in key
    assert token_key(presented_token(None, {"HTTP_AUTHORIZATION": "abc"})) == key
    assert presented_token({"token": 3}, {}) is None
    assert token_key(presented_token({}, {})) is None


def test_two_tokens_of_one_user_share_the_user_key() -> None:
    settings = make_settings()
    uid = "673a1b2c3d4e5f6a7b8c9d0a"
    first = mint_token(settings, uid, "patient", issued_at=1_000)
    second = mint_token(settings, uid, "patient", issued_at=2_000)
    assert token_key(first) != token_key(second)
    assert user_key(first) == user_key(f"Bearer {second}") == b"u:" + uid.encode()
    assert user_key("not-a-token") is None


def test_the_box_is_bounded_oldest_first_out() -> None:
    box = Cooldown(10.0, clock=lambda: 0.0, max_keys=3)
    keys = [token_key(f"t{i}") for i in range(5)]
    for key in keys:
        box.punish(key)
    assert len(box) == 3
    assert [box.refuses(k) for k in keys] == [False, False, True, True, True]


def test_zero_seconds_switches_it_off() -> None:
    box = Cooldown(0.0)
    key = token_key("abc")
    box.punish(key)
    assert not box.refuses(key)


def _token(header: dict[str, object], payload: object, signature: str = "c2ln") -> str:
    def part(value: object) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part(header)}.{part(payload)}.{signature}"


def test_the_claimed_user_is_read_as_a_full_decode_would_read_it() -> None:
    # The claim is read from the payload without PyJWT (#19): same answers as verification's
    settings = make_settings()
    uid = "673a1b2c3d4e5f6a7b8c9d0a"
    token = mint_token(settings, uid, "patient")
    assert claimed_user_id(token) == verify_token(token, settings).id == uid
    alg = {"alg": "HS256", "typ": "JWT"}
    # Unverified by design: a forged signature still names its (claimed) user ...
    assert claimed_user_id(_token(alg, {"sub": uid.upper()}, "forged")) == uid
    assert claimed_user_id(_token(alg, {"userId": uid})) == uid
    # ... and anything that is not a token with an id claim names nobody
    for bad in (
        "not-a-token",
        "a.b.c",
        "a.b",
        _token(alg, {"sub": "not-an-object-id"}),
        _token(alg, [uid]),
        _token(alg, {"name": uid}),
        _token(alg, {"sub": uid}) + ".extra",
        "x." + "A" * 20_000 + ".y",
        None,
        7,
    ):
        assert claimed_user_id(bad) is None, bad
