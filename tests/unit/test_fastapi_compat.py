"""FastAPI's pydantic.v1 checks without importing pydantic.v1 (cold start, #19; fastapi_compat.py).

The patch must keep applying (these tests fail if FastAPI renames the checks or stops looking
them up where the patch puts them) and must answer exactly as FastAPI's originals: a pydantic.v1
model is still refused. The checks that import pydantic.v1 run in fresh interpreters, so this
process (and the other tests) never loads it.
"""

import fastapi._compat
import fastapi.utils
from fastapi import encoders
from fastapi._compat import shared

from functions.api import fastapi_compat
from tests.fresh_interpreter import probe


def test_the_patch_is_where_fastapi_looks_the_checks_up() -> None:
    # functions.api applied it at import (every route module imports that package first).
    assert fastapi_compat.apply() is True
    assert shared.is_pydantic_v1_model_class is fastapi_compat.is_pydantic_v1_model_class
    assert shared.is_pydantic_v1_model_instance is fastapi_compat.is_pydantic_v1_model_instance
    assert encoders.is_pydantic_v1_model_instance is fastapi_compat.is_pydantic_v1_model_instance
    assert (
        fastapi._compat.is_pydantic_v1_model_instance
        is fastapi_compat.is_pydantic_v1_model_instance
    )
    # FastAPI still reaches them through these globals: a route's field (create_model_field ->
    # annotation_is_pydantic_v1 -> is_pydantic_v1_model_class) and jsonable_encoder. If a new
    # FastAPI checks elsewhere, these fail (and the import test below would see pydantic.v1).
    assert "annotation_is_pydantic_v1" in fastapi.utils.create_model_field.__code__.co_names
    assert "is_pydantic_v1_model_class" in shared.annotation_is_pydantic_v1.__code__.co_names
    assert "is_pydantic_v1_model_instance" in encoders.jsonable_encoder.__code__.co_names


NO_V1_PROBE = """
import json, sys
import functions.messages as function
from fastapi._compat import shared
from pydantic import BaseModel
class V2(BaseModel):
    x: int = 0
function.app.openapi()  # every route's fields and replies, built
answers = [shared.is_pydantic_v1_model_class(t) for t in (V2, int, None, list[V2], V2 | None)]
print(json.dumps({"v1": "pydantic.v1" in sys.modules, "answers": answers}))
"""


def test_an_app_and_its_document_are_built_without_pydantic_v1() -> None:
    seen = probe(NO_V1_PROBE)
    assert seen == {"v1": False, "answers": [False] * 5}


SAME_ANSWERS_PROBE = """
import json, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from pydantic import v1
from pydantic import BaseModel
from functions.api import fastapi_compat as compat

class Old(v1.BaseModel):
    x: int = 0
class OldChild(Old):
    pass
class New(BaseModel):
    x: int = 0

classes = [Old, OldChild, v1.BaseModel, New, BaseModel, int, str, None, list[Old], Old | None, 3]
values = [Old(), OldChild(), New(), 3, "text", None, {"x": 1}]
print(json.dumps({
    "classes": [
        [compat.ORIGINAL_IS_V1_MODEL_CLASS(c), compat.is_pydantic_v1_model_class(c)]
        for c in classes
    ],
    "values": [
        [compat.ORIGINAL_IS_V1_MODEL_INSTANCE(v), compat.is_pydantic_v1_model_instance(v)]
        for v in values
    ],
}))
"""


def test_once_pydantic_v1_is_loaded_the_answers_are_fastapis() -> None:
    seen = probe(SAME_ANSWERS_PROBE)
    for original, patched in seen["classes"] + seen["values"]:
        assert original == patched
    # And the probe did hold v1 models (the comparison is not all False).
    assert [c[1] for c in seen["classes"]][:3] == [True, True, True]
    assert [v[1] for v in seen["values"]][:2] == [True, True]


REFUSED_PROBE = """
import json, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from pydantic import v1
import functions.api  # the patch
from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import PydanticV1NotSupportedError

class Old(v1.BaseModel):
    x: int = 0

refused = []
router = APIRouter()
try:
    @router.get("/old", response_model=Old)
    async def old() -> dict:
        return {}
except PydanticV1NotSupportedError:
    refused.append("reply")
try:
    @router.post("/old")
    async def old_body(body: list[Old]) -> None:
        return None
except PydanticV1NotSupportedError:
    refused.append("body")
try:
    jsonable_encoder(Old())
except PydanticV1NotSupportedError:
    refused.append("encoder")
print(json.dumps(refused))
"""


def test_a_pydantic_v1_model_is_still_refused_with_fastapis_error() -> None:
    assert probe(REFUSED_PROBE) == ["reply", "body", "encoder"]
