"""Issue 19: `verify_token` gives the verdict of the stock `jwt.decode` on every token below.

verify_token may decode with its own PyJWT instance (messaging_core.jwt_decoder), tuned for
speed; this corpus is what keeps it honest: well-formed tokens, expired and immature ones, the
algorithm attacks, and tokens that are correctly signed over odd base64 (so the only thing
that can refuse them is the segment check itself). The reference is PyJWT's module-level
`jwt.decode` with the arguments verify_token passes, then the same service rules.
"""

import base64
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import astuple
from typing import Any

import jwt
import pytest
from messaging_core import auth
from messaging_core.auth import verify_token
from messaging_core.config import Settings
from messaging_core.errors import Unauthorized

SECRET = "test-secret-of-at-least-thirty-two-bytes!"
OTHER_SECRET = "another-secret-of-at-least-thirty-two-bytes"
ISSUER = "https://auth.esante.fr"
AUDIENCE = "messaging"
UID = "673a1b2c3d4e5f6a7b8c9d0e"
HEADER = {"alg": "HS256", "typ": "JWT"}

Outcome = tuple[Any, ...]


def settings_for(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"jwt_secret": SECRET, **overrides}
    return Settings(_env_file=None, environment="test", **values)  # type: ignore[call-arg]


PLAIN = settings_for()
SCOPED = settings_for(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def segment(value: Any) -> str:
    return b64(json.dumps(value).encode())


def sign(signing_input: str, key: str = SECRET, digest: Any = hashlib.sha256) -> str:
    return b64(hmac.new(key.encode(), signing_input.encode(), digest).digest())


def signed(header_seg: str, payload_seg: str, **kwargs: Any) -> str:
    """A token whose signature is right for exactly these (possibly odd) segments."""
    signing_input = f"{header_seg}.{payload_seg}"
    return f"{signing_input}.{sign(signing_input, **kwargs)}"


class Claims:
    """The claims of the corpus's tokens: a good set for `settings`, then the override tried."""

    def __init__(self, settings: Settings, now: int) -> None:
        self.now = now
        self.base: dict[str, Any] = {"sub": UID, "role": "doctor", "iat": now, "exp": now + 600}
        if settings.jwt_issuer:
            self.base["iss"] = settings.jwt_issuer
        if settings.jwt_audience:
            self.base["aud"] = settings.jwt_audience

    def __call__(self, **overrides: Any) -> dict[str, Any]:
        merged = {**self.base, **overrides}
        return {k: v for k, v in merged.items() if v is not None}

    def scoped(self, **overrides: Any) -> dict[str, Any]:
        """With an issuer and an audience, whether the settings check them or not."""
        return self(**{"iss": ISSUER, "aud": AUDIENCE, **overrides})

    def raw(self, exp: str) -> str:
        """A payload segment with a literal JSON exp (Infinity, NaN, 1e400: json.dumps cannot)."""
        text = json.dumps(self(exp=0)).replace('"exp": 0', f'"exp": {exp}')
        assert exp in text
        return b64(text.encode())


def misplace(text: str, char: str) -> list[str]:
    """`char` at the start, in the middle and at the end of a segment."""
    middle = len(text) // 2
    return [char + text, text[:middle] + char + text[middle:], text + char]


def padded(text: str, count: int) -> str:
    return text + "=" * count


def odd_base64(text: str) -> list[str]:
    """Spellings of one base64url segment that a strict or a lenient decoder might take."""
    variants: list[str] = []
    for char in ("!", "+", "/", "=", " ", "\t", "\n", "\x00", "é", ".", "%"):
        variants += misplace(text, char)
    variants += [padded(text, n) for n in range(1, 5)]
    variants += [padded(text, -len(text) % 4)]  # the canonical padding (a no-op at length 4k)
    variants += [text + "A", text + "AA", text[:-1], text.lower(), text.upper(), ""]
    # The last character carries unused bits when len % 4 is 2 or 3: another letter with the
    # same leading bits decodes to the same bytes, and only the round trip check refuses it.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if text and len(text) % 4 in (2, 3):
        index = alphabet.index(text[-1])
        variants.append(text[:-1] + alphabet[index ^ 1])
    return variants


def claim_tokens(claims: Claims) -> dict[str, str]:
    """Well-formed tokens signed with the service's key: the claims decide."""
    hs = jwt.encode
    now = claims.now
    specs: dict[str, dict[str, Any]] = {
        "valid": claims(),
        "valid-named": claims(name="Dr. Sarah Smith", jti="a" * 32),
        "expired": claims(iat=now - 1200, exp=now - 600),
        "expired-within-leeway": claims(iat=now - 600, exp=now - 3),
        "future-iat": claims(iat=now + 600, exp=now + 1200),
        "iat-within-leeway": claims(iat=now + 3),
        "future-nbf": claims(nbf=now + 600),
        "nbf-not-a-number": claims(nbf="soon"),
        "missing-exp": claims(exp=None),
        "missing-iat": claims(iat=None),
        "bool-exp": claims(exp=True),
        "bool-exp-false": claims(exp=False),
        "bool-iat": claims(iat=True),
        "string-exp": claims(exp=str(now + 600)),
        "word-exp": claims(exp="later"),
        "float-exp": claims(exp=now + 600.5),
        "list-exp": claims(exp=[now + 600]),
        "huge-exp": claims(exp=10**400),
        "huge-negative-iat": claims(iat=-(10**400)),
        "huge-name": claims(name="x" * 200_000),
        "huge-sub": claims(sub="a" * 100_000),
        "int-sub": claims(sub=12345),
        "int-jti": claims(jti=7),
        "admin-role": claims(role="admin"),
        "refresh-typ": claims(typ="refresh"),
        "too-long-lifetime": claims(exp=now + 40 * 24 * 3600),
        "iss-aud-unconfigured": claims.scoped(),
        "wrong-iss": claims.scoped(iss="https://evil.example"),
        "missing-iss": claims.scoped(iss=None),
        "wrong-aud": claims.scoped(aud="another-service"),
        "aud-list-with-ours": claims.scoped(aud=["x", AUDIENCE]),
        "aud-list-without-ours": claims.scoped(aud=["x", "y"]),
        "aud-int": claims.scoped(aud=5),
        "missing-aud": claims.scoped(aud=None),
    }
    tokens = {name: hs(value, SECRET, algorithm="HS256") for name, value in specs.items()}
    body = segment(claims())
    tokens |= {
        # jwt.encode refuses a non-string iss; an issuer is not obliged to use PyJWT.
        "list-iss": signed(segment(HEADER), segment(claims.scoped(iss=[ISSUER]))),
        "exp-infinity": signed(segment(HEADER), claims.raw("Infinity")),
        "exp-nan": signed(segment(HEADER), claims.raw("NaN")),
        "exp-1e400": signed(segment(HEADER), claims.raw("1e400")),
        "exp-5000-digits": signed(segment(HEADER), claims.raw("9" * 5000)),
        "deep-payload": signed(segment(HEADER), b64(b"[" * 100_000 + b"]" * 100_000)),
        "payload-list": signed(segment(HEADER), segment([claims()])),
        "payload-null": signed(segment(HEADER), segment(None)),
        "payload-string": signed(segment(HEADER), segment("claims")),
        "payload-number": signed(segment(HEADER), segment(42)),
        "payload-not-json": signed(segment(HEADER), b64(b"{sub: nope}")),
        "payload-not-utf8": signed(segment(HEADER), b64(b'{"sub":"\xff\xfe"}')),
        "payload-utf16": signed(segment(HEADER), b64(json.dumps(claims()).encode("utf-16"))),
        "payload-bom": signed(
            segment(HEADER), b64(b"\xef\xbb\xbf" + json.dumps(claims()).encode())
        ),
        "payload-duplicate-exp": signed(
            segment(HEADER), b64(json.dumps(claims())[:-1].encode() + b',"exp":1}')
        ),
        "payload-empty": signed(segment(HEADER), ""),
        "wrong-signature": hs(claims(), OTHER_SECRET, algorithm="HS256"),
        "empty-signature": f"{segment(HEADER)}.{body}.",
        "truncated-signature": hs(claims(), SECRET, algorithm="HS256")[:-4],
    }
    return tokens


def header_tokens(claims: Claims) -> dict[str, str]:
    """The algorithm and header attacks (the signature is HMAC-SHA256 with our key unless said)."""
    body = segment(claims())
    with warnings.catch_warnings():
        # PyJWT rightly finds the key short for HS512; the attack is the algorithm.
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        hs512 = jwt.encode(claims(), SECRET, algorithm="HS512")
    headers: dict[str, Any] = {
        "alg-none": {"alg": "none", "typ": "JWT"},
        "alg-None": {"alg": "None"},
        "alg-rs256": {"alg": "RS256", "typ": "JWT"},
        "alg-lower": {"alg": "hs256"},
        "alg-missing": {"typ": "JWT"},
        "alg-null": {"alg": None},
        "alg-empty": {"alg": ""},
        "alg-list": {"alg": ["HS256"]},
        "kid-int": {**HEADER, "kid": 5},
        "kid-str": {**HEADER, "kid": "k1"},
        "crit-unknown": {**HEADER, "crit": ["exp"], "exp": 1},
        "crit-empty": {**HEADER, "crit": []},
        "crit-not-list": {**HEADER, "crit": "b64"},
        "b64-false": {**HEADER, "b64": False, "crit": ["b64"]},
        "b64-false-uncritical": {**HEADER, "b64": False},
        "typ-odd": {**HEADER, "typ": "at+jwt"},
        "header-list": [HEADER],
        "header-null": None,
        "header-string": "HS256",
    }
    tokens = {name: signed(segment(value), body) for name, value in headers.items()}
    tokens |= {
        "alg-none-unsigned": f"{segment({'alg': 'none'})}.{body}.",
        "hs512-on-our-key": hs512,
        "hs512-header-hs256-signature": signed(segment({"alg": "HS512"}), body),
        "header-not-json": signed(b64(b"{alg: HS256}"), body),
        "header-deep": signed(b64(b"[" * 100_000 + b"]" * 100_000), body),
        "b64-false-empty-payload": signed(segment({**HEADER, "b64": False, "crit": ["b64"]}), ""),
    }
    return tokens


def segment_tokens(claims: Claims) -> dict[str, str]:
    """Correctly signed tokens with odd base64 in one segment, and wrong segment counts."""
    tokens: dict[str, str] = {}
    # Three headers whose segments are 4k+0, 4k+2 and 4k+3 long, so padding is tried on each.
    headers = [segment(HEADER), segment({**HEADER, "x": "a"}), segment({**HEADER, "x": "ab"})]
    assert {len(h) % 4 for h in headers} == {0, 2, 3}
    body = segment(claims())
    for h_index, header in enumerate(headers):
        for index, odd in enumerate(odd_base64(header)):
            tokens[f"header{h_index}-odd{index}"] = signed(odd, body)
    bodies = [segment(claims(jti=j)) for j in ("a", "ab", "abc")]
    for b_index, payload in enumerate(bodies):
        for index, odd in enumerate(odd_base64(payload)):
            tokens[f"payload{b_index}-odd{index}"] = signed(segment(HEADER), odd)
    signing_input = f"{segment(HEADER)}.{body}"
    signature = sign(signing_input)  # 43 characters: 4k+3
    for index, odd in enumerate(odd_base64(signature)):
        tokens[f"signature-odd{index}"] = f"{signing_input}.{odd}"
    good = f"{signing_input}.{signature}"
    tokens |= {
        "too-many-segments": good + "." + signature,
        "four-empty-segments": "...",
        "two-segments": signing_input,
        "one-segment": segment(HEADER),
        "only-dots": "..",
        "empty-header-segment": f".{body}.{signature}",
        "leading-space": " " + good,
        "trailing-newline": good + "\n",
        "non-ascii": good + "é",
        # An issuer that pads its segments (AWS ALB): 43 characters and one '='.
        "signature-padded": good + "=",
        "header-padded": signed(headers[1] + "==", body),
    }
    return tokens


def corpus(settings: Settings) -> dict[str, str]:
    claims = Claims(settings, int(time.time()))
    return claim_tokens(claims) | header_tokens(claims) | segment_tokens(claims)


def outcome(check: Callable[[], Any], refused: type[BaseException]) -> Outcome:
    """("ok", the principal's fields) | ("refused",) | ("error", the exception's type)."""
    try:
        principal = check()
    except refused:
        return ("refused",)
    except Exception as exc:  # a crash must be the same crash on both paths
        return ("error", type(exc))
    return ("ok", astuple(principal))


def stock_verdict(token: str, settings: Settings, key: Any = None) -> Outcome:
    """PyJWT's module-level decode with verify_token's arguments, then the service's rules."""

    def check() -> Any:
        try:
            decoded = jwt.decode(
                token,
                key if key is not None else settings.jwt_secret.get_secret_value(),
                **auth.decode_arguments(settings),
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("stock refusal") from exc
        auth._check_lifetime_and_use(decoded, settings)
        return auth.principal_from_claims(decoded)

    return outcome(check, Unauthorized)


def our_verdict(token: str, settings: Settings) -> Outcome:
    return outcome(lambda: verify_token(token, settings), Unauthorized)


@pytest.mark.parametrize("settings", [PLAIN, SCOPED], ids=["plain", "issuer-and-audience"])
def test_every_token_gets_the_stock_verdict(settings: Settings) -> None:
    # Given tokens of every shape, signed right or wrong
    tokens = corpus(settings)
    # When both paths judge each one
    differences = {
        name: (stock, ours)
        for name, token in tokens.items()
        if (stock := stock_verdict(token, settings)) != (ours := our_verdict(token, settings))
    }
    # Then they agree on every token: the same accepted (with the same principal), the same
    # refused, the same crash
    assert differences == {}
    # And the corpus tries both sides of the line (a corpus all refused would prove nothing)
    verdicts = [stock_verdict(token, settings)[0] for token in tokens.values()]
    assert verdicts.count("ok") >= 10
    assert verdicts.count("refused") >= 300


def test_the_corpus_anchors() -> None:
    """A few verdicts stated outright, so both paths being wrong together is caught too."""
    tokens = corpus(PLAIN)
    scoped = corpus(SCOPED)
    assert our_verdict(tokens["valid"], PLAIN)[0] == "ok"
    assert our_verdict(scoped["valid"], SCOPED)[0] == "ok"
    assert our_verdict(scoped["aud-list-with-ours"], SCOPED)[0] == "ok"
    assert our_verdict(scoped["wrong-aud"], SCOPED) == ("refused",)
    assert our_verdict(scoped["missing-iss"], SCOPED) == ("refused",)
    assert our_verdict(tokens["signature-padded"], PLAIN)[0] == "ok"
    assert our_verdict(tokens["header-padded"], PLAIN)[0] == "ok"
    for name in (
        "alg-none",
        "alg-none-unsigned",
        "alg-rs256",
        "hs512-on-our-key",
        "wrong-signature",
        "expired",
        "future-iat",
        "missing-exp",
        "bool-exp",
        # Signed by the key holder, but past a float: refused, not a crash (a 500 once)
        "huge-exp",
        "huge-negative-iat",
        "too-many-segments",
        "header0-odd1",  # a '!' in the middle of the header
    ):
        assert our_verdict(tokens[name], PLAIN) == ("refused",), name


# -- the key: what PyJWT refuses as an HMAC secret stays refused, a new secret counts at once


def asymmetric_secrets() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    ssh = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    jwk = json.dumps({"kty": "oct", "k": b64(SECRET.encode())})
    return {"pem-public-key": pem, "ssh-public-key": ssh, "jwk": jwk}


@pytest.mark.parametrize("kind", ["pem-public-key", "ssh-public-key", "jwk"])
def test_a_key_pyjwt_refuses_as_an_hmac_secret_is_refused_every_time(kind: str) -> None:
    # Given a service misconfigured with a public key (or a JWK) as its HMAC secret, and a
    # token an attacker signed with that public text (the algorithm confusion attack)
    secret = asymmetric_secrets()[kind]
    settings = settings_for(jwt_secret=secret)
    now = int(time.time())
    token = signed(segment(HEADER), segment(Claims(settings, now)()), key=secret)
    # When it is presented again and again, Then PyJWT's refusal of the key holds each time
    for _ in range(3):
        assert stock_verdict(token, settings) == ("error", jwt.InvalidKeyError)
        with pytest.raises(jwt.InvalidKeyError):
            verify_token(token, settings)


def test_a_new_secret_counts_at_once_and_the_old_one_no_longer() -> None:
    # Given tokens signed before and after a secret rotation
    before, after = settings_for(jwt_secret=SECRET), settings_for(jwt_secret=OTHER_SECRET)
    old = auth.mint_token(before, UID, "doctor")
    new = auth.mint_token(after, UID, "patient")
    for _ in range(3):  # and back again: nothing remembered from one secret leaks to the other
        assert verify_token(old, before).role == "doctor"
        assert verify_token(new, after).role == "patient"
        with pytest.raises(Unauthorized):
            verify_token(old, after)
        with pytest.raises(Unauthorized):
            verify_token(new, before)


def test_many_secrets_in_turn_each_check_their_own_tokens() -> None:
    """More distinct secrets than any cache of prepared keys would hold."""
    secrets = [f"{SECRET}-{index:02d}" for index in range(40)]
    tokens = [auth.mint_token(settings_for(jwt_secret=s), UID, "doctor") for s in secrets]
    for _ in range(2):
        for index, secret in enumerate(secrets):
            settings = settings_for(jwt_secret=secret)
            assert verify_token(tokens[index], settings).id == UID
            with pytest.raises(Unauthorized):
                verify_token(tokens[index - 1], settings)


def test_rs256_tokens_are_checked_with_the_jwks_key_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    # Given an RS256 deployment whose JWKS holds one key
    signer, stranger = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab"
    )
    public = signer.public_key()
    jwk = jwt.PyJWK.from_dict(
        {**jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True), "kid": "k1", "alg": "RS256"}
    )

    class Jwks:
        def get_signing_key_from_jwt(self, _token: str) -> jwt.PyJWK:
            return jwk

    monkeypatch.setattr(auth, "_jwks_client", lambda _url: Jwks())
    settings = settings_for(jwt_algorithm="RS256", jwt_jwks_url="http://127.0.0.1:9/jwks.json")
    body = Claims(settings, int(time.time()))()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    tokens = {
        "good": jwt.encode(body, signer, algorithm="RS256", headers={"kid": "k1"}),
        "stranger": jwt.encode(body, stranger, algorithm="RS256", headers={"kid": "k1"}),
        # The classic confusion: HS256 "signed" with the public key everyone can read
        "hs256-with-public-pem": signed(segment(HEADER), segment(body), key=pem),
        "none": f"{segment({'alg': 'none'})}.{segment(body)}.",
    }
    # When each is verified, Then the verdicts are the stock ones, and only the good one opens
    verdicts = {name: our_verdict(token, settings) for name, token in tokens.items()}
    assert verdicts == {name: stock_verdict(t, settings, jwk.key) for name, t in tokens.items()}
    assert [name for name, verdict in verdicts.items() if verdict[0] == "ok"] == ["good"]
