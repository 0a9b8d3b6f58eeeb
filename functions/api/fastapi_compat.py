"""FastAPI's pydantic.v1 checks, answered without importing pydantic.v1 (cold start, #19).

FastAPI refuses pydantic.v1 models: each route's parameter and reply annotations go through
`fastapi._compat.shared.is_pydantic_v1_model_class`, which runs `from pydantic import v1` to
test `issubclass(cls, v1.BaseModel)`. The first route of an app thus imports the whole of
pydantic.v1 (30 modules, pickle included: ~33 ms of a function's import, 1.07x the framework
floor with a single route) only to answer False.

The answer is the same without that import: no class (and no instance) can derive from
pydantic.v1's BaseModel unless `pydantic.v1.main`, which defines it, is already in
`sys.modules`. So the checks below look there first and, when pydantic.v1 is loaded,
answer exactly as FastAPI's (same `lenient_issubclass` / `isinstance` on the same class):
a pydantic.v1 model is still refused with FastAPI's own error.

`tests/unit/test_fastapi_compat.py` fails if FastAPI renames or stops calling these functions
(the patch would no longer apply), and checks both answers against FastAPI's originals.
"""

import sys
from typing import Any

import fastapi._compat
from fastapi import encoders
from fastapi._compat import shared

# FastAPI's originals, kept for the tests that compare the answers.
ORIGINAL_IS_V1_MODEL_CLASS = shared.is_pydantic_v1_model_class
ORIGINAL_IS_V1_MODEL_INSTANCE = shared.is_pydantic_v1_model_instance
V1_MAIN = "pydantic.v1.main"


def _v1_base_model() -> type | None:
    # pydantic.v1's BaseModel if pydantic.v1 is loaded, else None (and nothing is imported).
    main = sys.modules.get(V1_MAIN)
    base = getattr(main, "BaseModel", None) if main is not None else None
    return base if isinstance(base, type) else None


def is_pydantic_v1_model_class(cls: Any) -> bool:
    base = _v1_base_model()
    return base is not None and shared.lenient_issubclass(cls, base)


def is_pydantic_v1_model_instance(obj: Any) -> bool:
    base = _v1_base_model()
    return base is not None and isinstance(obj, base)


def apply() -> bool:
    """Install the checks where FastAPI looks them up; False if this FastAPI has none of them.

    `annotation_is_pydantic_v1` (routes) finds `is_pydantic_v1_model_class` among its module's
    globals at each call; `jsonable_encoder` imported `is_pydantic_v1_model_instance` by name,
    so that module's binding is replaced too (and `fastapi._compat`'s re-export). Without these
    names nothing is changed (FastAPI keeps its own checks; only the cold start is slower) and
    the unit test says why.
    """
    if not (
        hasattr(shared, "is_pydantic_v1_model_class")
        and hasattr(shared, "is_pydantic_v1_model_instance")
        and hasattr(encoders, "is_pydantic_v1_model_instance")
    ):
        return False
    shared.is_pydantic_v1_model_class = is_pydantic_v1_model_class
    shared.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance
    fastapi._compat.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance
    encoders.is_pydantic_v1_model_instance = is_pydantic_v1_model_instance
    return True
