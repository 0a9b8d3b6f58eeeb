"""Lambda `doctor_tools`: message templates and response analytics for doctors (#17)."""

from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, Query
from messaging_core import analytics, templates
from messaging_core.inputs import InputModel
from messaging_core.replies import STRICT, Timestamp
from pydantic import StrictStr, with_config

from .api.app import create_app, lambda_handler
from .api.deps import CurrentUser, Services
from .api.openapi import RESPONSES
from .api.schemas import Reply

router = APIRouter(prefix="/api/v1/messages", tags=["doctor tools"])


class TemplateIn(InputModel):
    title: StrictStr
    content: StrictStr


@with_config(STRICT)
class TemplateView(TypedDict):
    """A doctor's saved message; `{{patientName}}` and `{{doctorName}}` are filled when sent."""

    id: str
    title: str
    content: str
    createdAt: Timestamp
    updatedAt: Timestamp


@with_config(STRICT)
class TemplateReply(Reply):
    """The template created or changed."""

    data: TemplateView


@with_config(STRICT)
class TemplatesReply(Reply):
    """The caller's templates, most recently changed first."""

    data: list[TemplateView]


@with_config(STRICT)
class DayView(TypedDict):
    """Messages the doctor sent and received on one UTC day."""

    date: str
    sent: int
    received: int


Seconds = float | None  # a reply time in seconds; null without any reply


@with_config(STRICT)
class WeekView(TypedDict):
    """One ISO week (Monday first, UTC): volumes, replies and reply times."""

    weekStart: str
    sent: int
    received: int
    replies: int
    medianResponseSeconds: Seconds
    p90ResponseSeconds: Seconds


@with_config(STRICT)
class TotalsView(TypedDict):
    """The whole range, with the patient messages still awaiting a reply."""

    sent: int
    received: int
    awaitingReply: int
    replies: int
    medianResponseSeconds: Seconds
    p90ResponseSeconds: Seconds


AnalyticsView = TypedDict(
    "AnalyticsView",
    {
        "from": str,
        "to": str,
        "totals": TotalsView,
        "daily": list[DayView],
        "weekly": list[WeekView],
    },
)
AnalyticsView.__doc__ = "A doctor's response analytics over [from, to] (UTC days)."
AnalyticsView.__pydantic_config__ = STRICT  # type: ignore[attr-defined]


@with_config(STRICT)
class AnalyticsReply(Reply):
    """A doctor's response analytics: no content, no patient names."""

    data: AnalyticsView


@router.get("/templates", response_model=TemplatesReply, responses=RESPONSES["list_templates"])
async def list_templates(user: CurrentUser, core: Services) -> dict[str, Any]:
    """The caller's message templates (doctors only)."""
    data = await templates.list_templates(core, user)
    return {"message": "Templates retrieved successfully", "data": data}


@router.post(
    "/templates",
    status_code=201,
    response_model=TemplateReply,
    responses=RESPONSES["create_template"],
)
async def create_template(body: TemplateIn, user: CurrentUser, core: Services) -> dict[str, Any]:
    """Save a message template (doctors only, at most 200)."""
    data = await templates.create_template(core, user, body.title, body.content)
    return {"message": "Template created successfully", "data": data}


@router.put(
    "/templates/{templateId}",
    response_model=TemplateReply,
    responses=RESPONSES["update_template"],
)
async def update_template(
    templateId: str, body: TemplateIn, user: CurrentUser, core: Services
) -> dict[str, Any]:
    """Change one of the caller's templates."""
    data = await templates.update_template(core, user, templateId, body.title, body.content)
    return {"message": "Template updated successfully", "data": data}


@router.delete(
    "/templates/{templateId}", response_model=Reply, responses=RESPONSES["delete_template"]
)
async def delete_template(templateId: str, user: CurrentUser, core: Services) -> dict[str, Any]:
    """Delete one of the caller's templates."""
    await templates.delete_template(core, user, templateId)
    return {"message": "Template deleted successfully"}


@router.get("/analytics", response_model=AnalyticsReply, responses=RESPONSES["analytics"])
async def get_analytics(
    user: CurrentUser,
    core: Services,
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD (UTC)")] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD, inclusive")] = None,
) -> dict[str, Any]:
    """The caller's response analytics (doctors only; at most 366 days, default the last 30)."""
    data = await analytics.doctor_analytics(core, user, start, end)
    return {"message": "Analytics retrieved successfully", "data": data}


app = create_app(router)
handler = lambda_handler(app)
