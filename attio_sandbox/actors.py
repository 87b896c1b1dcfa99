"""Who made a change: the `actor` of Attio's values and webhook events.

Writes through the API are the token's (`api-token`); a change made by a person in Attio's web
app is a `workspace-member`'s. Webhook filters on `actor.type` or `actor.id` tell them apart, so
tests need both.
"""

from __future__ import annotations

from typing import Literal

ActorType = Literal["api-token", "workspace-member", "system", "app"]
Actor = dict[str, str | None]


def api_token(token_id: str) -> Actor:
    return {"type": "api-token", "id": token_id}


def workspace_member(member_id: str) -> Actor:
    return {"type": "workspace-member", "id": member_id}


def system() -> Actor:
    # Attio's system actor has no id.
    return {"type": "system", "id": None}
