"""`GET /v1/alerts` and `POST /v1/alerts/{id}/ack` (ops, admin): the alert list and acknowledgement.

Acknowledging stops escalation and tells PagerDuty (`acknowledge` under the
alert's dedup key); the console's button calls the same route.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import errors
from shared.http import RequestContext, json_response
from shared.timestamps import iso
from shared.wire_types import Timestamp, UUIDString

if TYPE_CHECKING:

    from flask import Response

    from shared.models import Alert


class AlertsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["open", "resolved", "all"] = "open"
    limit: int = Field(100, ge=1, le=500, description="newest alerts returned at most")


class AlertView(BaseModel):
    id: UUIDString
    rule: str
    severity: Literal["critical", "error", "warning", "info"]
    state: Literal["open", "resolved"]
    summary: str
    details: dict
    opened_at: Timestamp
    resolved_at: Timestamp | None
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None = Field(description="the acknowledging operator's user id, or 'cli'")
    notified_at: Timestamp | None
    escalated_at: Timestamp | None


class AlertList(BaseModel):
    alerts: list[AlertView]


def view(alert: Alert) -> dict[str, Any]:
    by = alert.acknowledged_by or ("cli" if alert.acknowledged_via == "cli" else None)
    return {
        "id": alert.id, "rule": alert.rule, "severity": alert.severity, "state": alert.status,
        "summary": alert.message, "details": alert.details or {},
        "opened_at": iso(alert.opened_at), "resolved_at": iso(alert.resolved_at),
        "acknowledged_at": iso(alert.acknowledged_at), "acknowledged_by": by,
        "notified_at": iso(alert.notified_at), "escalated_at": iso(alert.escalated_at),
    }


def list_alerts(ctx: RequestContext) -> Response:
    from sqlalchemy import select

    from shared.database import session_scope
    from shared.models import Alert

    query = ctx.query(AlertsQuery)
    stmt = select(Alert).order_by(Alert.opened_at.desc(), Alert.id).limit(query.limit)
    if query.state != "all":
        stmt = stmt.where(Alert.status == query.state)
    with session_scope() as session:
        body = {"alerts": [view(a) for a in session.scalars(stmt)]}
    return json_response(body, 200, {"Cache-Control": "no-store"})


def ack(ctx: RequestContext, alert_id: str) -> Response:
    from shared.alerts import AlertNotFound, AlertResolved, acknowledge
    from shared.database import session_scope

    try:
        alert_id = str(uuid.UUID(alert_id))
    except ValueError:
        raise errors.NotFound("No such alert.") from None
    with session_scope() as session:
        try:
            alert = acknowledge(session, alert_id, user_id=ctx.user.user_id, via="api",
                                deliver_now=False)  # PagerDuty hears it through the outbox
        except AlertNotFound:
            raise errors.NotFound("No such alert.") from None
        except AlertResolved:
            raise errors.Conflict("The alert is resolved already; there is nothing to acknowledge.") from None
        from shared.audit import audit

        audit(session, "alert.acknowledged", actor=ctx.user.user_id, actor_role=ctx.user.role,
              details={"alert_id": alert.id, "rule": alert.rule}, request_id=ctx.request_id)
        body = view(alert)
    return json_response(body, 200, {"Cache-Control": "no-store"})
