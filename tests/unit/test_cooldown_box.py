"""The per-task cooldown of refused tokens: expiry on an injected clock, bounded size."""

from socket_tier.cooldown import Cooldown, token_key


def test_a_punished_token_is_refused_until_its_time_is_up() -> None:
    now = [100.0]
    box = Cooldown(10.0, clock=lambda: now[0])
    key = token_key({"token": "abc"}, None)
    assert not box.refuses(key)
    box.punish(key)
    assert box.refuses(key)
    assert not box.refuses(token_key({"token": "another"}, None))
    now[0] = 109.9
    assert box.refuses(key)
    now[0] = 110.0
    assert not box.refuses(key)
    assert len(box) == 0  # an expired entry is forgotten on sight


def test_the_key_is_a_digest_of_the_token_from_auth_or_header() -> None:
    key = token_key({"token": "abc"}, None)
    assert key is not None
    assert b"abc" not in key
    assert token_key(None, {"HTTP_AUTHORIZATION": "abc"}) == key
    assert token_key({"token": 3}, {}) is None
    assert token_key({}, {}) is None


def test_the_box_is_bounded_oldest_first_out() -> None:
    box = Cooldown(10.0, clock=lambda: 0.0, max_keys=3)
    keys = [token_key({"token": f"t{i}"}, None) for i in range(5)]
    for key in keys:
        box.punish(key)
    assert len(box) == 3
    assert [box.refuses(k) for k in keys] == [False, False, True, True, True]


def test_zero_seconds_switches_it_off() -> None:
    box = Cooldown(0.0)
    key = token_key({"token": "abc"}, None)
    box.punish(key)
    assert not box.refuses(key)
