"""PyJWT, minus two costs it pays on every decode (issue #19: a Socket.IO connect verifies one).

Still PyJWT's own decode: header and claim checks, algorithm pinning and HMAC comparison are
untouched. Two steps are done faster, with the same verdicts:

- `HMACAlgorithm.prepare_key` sniffs the secret for PEM, SSH and DER keys and parses it as JSON
  (a JWK must not serve as a raw HMAC secret), ~19% of a verification, though the secret is the
  same on every call. Here a secret that passed those checks is remembered by value; a new one
  (a rotation) is checked afresh, and a refused one is never remembered, so refused every time.
- `PyJWS._decode_base64url_segment` tests each character against the base64url alphabet in a
  Python generator, ~22%. Here one compiled regex does that test; padding, length and
  round-trip checks are PyJWT's, in its order, with its messages.

Private instances only: PyJWT's module-level `jwt.decode` and its global PyJWS stay stock for
every other caller. tests/unit/test_token_differential.py holds both to the same verdicts.
"""

from __future__ import annotations

import binascii
import re
import threading
from typing import Any

from jwt import PyJWS, PyJWT
from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

# PyJWT's _BASE64URL_ALPHABET (jwt/api_jws.py), as a run of bytes that fullmatch tests in C.
_BASE64URL_RUN = re.compile(rb"[A-Za-z0-9\-_]*")
# Secrets remembered per algorithm: the configured one, plus room for a rotation in flight.
# Past this the memory is dropped and refilled (a test minting with many keys, never a service).
_MAX_PREPARED_KEYS = 8


class PreparedKeyHMAC(HMACAlgorithm):
    """HMAC whose key checks run once per distinct secret value, not once per token."""

    def __init__(self, hash_alg: Any) -> None:
        super().__init__(hash_alg)
        self._prepared: dict[str | bytes, bytes] = {}
        self._lock = threading.Lock()  # verify_token also runs in worker threads (Secrets Manager)

    def prepare_key(self, key: str | bytes) -> bytes:
        # Exact types only: a str or bytes subclass could compare equal to another value.
        cacheable = type(key) is str or type(key) is bytes
        if cacheable:
            prepared = self._prepared.get(key)
            if prepared is not None:
                return prepared
        prepared = super().prepare_key(key)  # raises for a refused key: nothing is remembered
        if cacheable:
            with self._lock:
                if len(self._prepared) >= _MAX_PREPARED_KEYS:
                    self._prepared.clear()
                self._prepared[key] = prepared
        return prepared


class LeanJWS(PyJWS):
    """PyJWS with the HMAC algorithms above and a C-speed alphabet test of each segment."""

    def __init__(self, options: Any = None) -> None:
        super().__init__(options=options)
        for name, hash_alg in (
            ("HS256", HMACAlgorithm.SHA256),
            ("HS384", HMACAlgorithm.SHA384),
            ("HS512", HMACAlgorithm.SHA512),
        ):
            self._algorithms[name] = PreparedKeyHMAC(hash_alg)

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        # PyJWT 2.15.1's checks, one for one: trailing '=' accepted up to two and only when the
        # segment is then a multiple of 4 (AWS ALB pads); then no length 4k+1, nothing outside
        # the alphabet, and a canonical encoding (no stray bits in the last character).
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if padding > 2 or (padding and len(segment) % 4 != 0):
            raise DecodeError(f"Invalid {name} padding")
        if len(stripped) % 4 == 1 or _BASE64URL_RUN.fullmatch(stripped) is None:
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded


class LeanJWT(PyJWT):
    """PyJWT whose signature layer is a LeanJWS of its own (PyJWT() builds a stock PyJWS)."""

    def __init__(self) -> None:
        super().__init__()
        self._jws = LeanJWS(options=self._get_sig_options())
