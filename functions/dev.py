"""Development-only routes for the demo page (`make run`); never part of a Lambda."""

from typing import Any

from fastapi import APIRouter
from messaging_core.dev_signin import issue_dev_token
from messaging_core.inputs import DevTokenIn

from .api.deps import Services
from .api.schemas import DevTokenReply

router = APIRouter(tags=["development"])


@router.post("/dev/token", status_code=201, response_model=DevTokenReply)
async def dev_token(body: DevTokenIn, core: Services) -> dict[str, Any]:
    """Mint a development token for a role and a name (404 unless ENVIRONMENT=development)."""
    data = await issue_dev_token(core, body)
    return {"message": "Development token created", "data": data}
