"""Issue 19: the private PyJWT of messaging_core.jwt_decoder, step by step against PyJWT's own.

tests/unit/test_token_differential.py compares whole verdicts; here each replaced step meets
the stock one on inputs chosen for it, and the stock module-level objects are shown untouched.
"""

import itertools
import json
import random

import jwt
import jwt.api_jws
import jwt.api_jwt
import pytest
from jwt.algorithms import HMACAlgorithm
from messaging_core import auth
from messaging_core.jwt_decoder import LeanJWS, LeanJWT, PreparedKeyHMAC

from tests.conftest import make_settings

STOCK_SEGMENT = jwt.api_jws.PyJWS._decode_base64url_segment
LEAN_SEGMENT = LeanJWS._decode_base64url_segment
# The characters a hostile segment is made of: the alphabet's edges, '=' and what base64
# decoders skip or translate (standard alphabet, whitespace, NUL, a non-ASCII byte).
PIECES = [b"A", b"Q", b"g", b"w", b"z", b"0", b"9", b"-", b"_", b"=", b"+", b"/", b" ", b"\n"]
PIECES += [b"\x00", b"\xc3\xa9", b"!", b"."]


def verdict(decode: object, segment: bytes) -> tuple[str, object]:
    try:
        return ("ok", decode(segment, "header"))  # type: ignore[operator]
    except jwt.DecodeError as exc:
        return ("refused", str(exc))


def test_every_short_segment_decodes_as_pyjwt_decodes_it() -> None:
    # Given every segment of up to four pieces (18 pieces: ~110,000 segments)
    segments = [b"".join(p) for n in range(5) for p in itertools.product(PIECES, repeat=n)]
    # When both decode each, Then the same bytes or the same refusal (message included)
    differences = [s for s in segments if verdict(STOCK_SEGMENT, s) != verdict(LEAN_SEGMENT, s)]
    assert differences == []
    accepted = sum(verdict(LEAN_SEGMENT, s)[0] == "ok" for s in segments)
    assert 1_000 < accepted < len(segments) / 2  # both sides of the line were tried


def test_long_segments_with_odd_characters_decode_as_pyjwt_decodes_them() -> None:
    randomness = random.Random(19)  # fixed: a failure replays
    for _ in range(5_000):
        length = randomness.randrange(5, 80)
        segment = b"".join(randomness.choice(PIECES[:9] * 6 + PIECES) for _ in range(length))
        segment += b"=" * randomness.choice([0, 0, 1, 2, 3])
        assert verdict(STOCK_SEGMENT, segment) == verdict(LEAN_SEGMENT, segment), segment


@pytest.mark.parametrize(
    "key",
    [
        "test-secret-of-at-least-thirty-two-bytes!",
        b"bytes-secret-of-at-least-thirty-two-bytes",
        "é-non-ascii-secret-of-at-least-thirty-two",
        "",
        b"",
        "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH",
        json.dumps({"kty": "oct", "k": "c2VjcmV0"}),
        json.dumps([{"keys": [{"kty": "oct"}]}]),
        "[" * 5_000 + '"kty":1',  # the deep-nesting branch of PyJWT's JWK sniffing
        "12345",
        "null",
    ],
)
def test_a_key_is_prepared_as_pyjwt_prepares_it_every_time(key: str | bytes) -> None:
    stock, lean = HMACAlgorithm(HMACAlgorithm.SHA256), PreparedKeyHMAC(HMACAlgorithm.SHA256)

    def prepared(algorithm: HMACAlgorithm) -> tuple[str, object]:
        try:
            return ("ok", algorithm.prepare_key(key))
        except jwt.InvalidKeyError as exc:
            return ("refused", str(exc))

    expected = prepared(stock)
    for _ in range(3):  # the first call and the remembered ones
        assert prepared(lean) == expected


def test_a_refused_key_is_checked_again_not_remembered() -> None:
    calls: list[str | bytes] = []

    class CountingHMAC(HMACAlgorithm):
        def prepare_key(self, key: str | bytes) -> bytes:
            calls.append(key)
            return super().prepare_key(key)

    class Counted(PreparedKeyHMAC, CountingHMAC):
        """PreparedKeyHMAC's super().prepare_key is now CountingHMAC's (the MRO)."""

    lean = Counted(HMACAlgorithm.SHA256)
    good = "a-good-secret-of-at-least-thirty-two-bytes"
    for _ in range(3):
        with pytest.raises(jwt.InvalidKeyError):
            lean.prepare_key("ssh-rsa AAAA")
        assert lean.prepare_key(good) == good.encode()
    # The refused key was checked on each of its three calls, the good one on its first only.
    assert calls.count("ssh-rsa AAAA") == 3
    assert calls.count(good) == 1


def test_a_key_of_another_type_is_passed_through_to_pyjwt() -> None:
    lean = PreparedKeyHMAC(HMACAlgorithm.SHA256)
    with pytest.raises(TypeError):
        lean.prepare_key(12345)  # type: ignore[arg-type]
    assert lean._prepared == {}


def test_verify_token_decodes_with_the_private_instances_and_leaves_pyjwts_alone() -> None:
    # Given the stock module-level objects as PyJWT built them
    stock_jws = jwt.api_jwt._jwt_global_obj._jws
    stock_hs256 = jwt.api_jws._jws_global_obj._algorithms["HS256"]
    # When verify_token has run
    settings = make_settings()
    secret = settings.jwt_secret.get_secret_value()
    auth.verify_token(auth.mint_token(settings, "673a1b2c3d4e5f6a7b8c9d0e", "doctor"), settings)
    # Then its decoder is a LeanJWT on a LeanJWS, whose HS256 remembers the secret it checked
    decoder = auth._decoder()
    assert type(decoder) is LeanJWT
    assert type(decoder._jws) is LeanJWS
    hs256 = decoder._jws.get_algorithm_by_name("HS256")
    assert isinstance(hs256, PreparedKeyHMAC)
    assert hs256._prepared[secret] == secret.encode()
    # And PyJWT's module-level decode still runs on its stock, untouched objects
    assert jwt.api_jwt._jwt_global_obj._jws is stock_jws is jwt.api_jws._jws_global_obj
    assert type(stock_jws) is jwt.PyJWS
    assert jwt.api_jws._jws_global_obj._algorithms["HS256"] is stock_hs256
    assert type(stock_hs256) is HMACAlgorithm
    assert jwt.PyJWS._decode_base64url_segment is STOCK_SEGMENT
    # And the other algorithms are PyJWT's (RS256 for a JWKS deployment)
    assert type(decoder._jws.get_algorithm_by_name("RS256")) is type(
        stock_jws.get_algorithm_by_name("RS256")
    )
