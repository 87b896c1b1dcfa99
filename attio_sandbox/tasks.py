"""The workspace's members and tasks, as `/v2/workspace_members` and `/v2/tasks` describe them.

Tasks hold plaintext content (at most 2,000 characters), a deadline, a completed flag, the
records they link to and the members assigned; shapes follow Attio's OpenAPI document. Checks
live here, so tests that use `state.tasks` directly get the same 400s and 404s as the routes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from attio_sandbox.actors import Actor
from attio_sandbox.clock import now_timestamp, parse_timestamp
from attio_sandbox.config import WorkspaceMember
from attio_sandbox.errors import not_found, validation_error
from attio_sandbox.store import Workspace

MAX_CONTENT = 2000
_CREATE_FIELDS = frozenset(
    {"content", "format", "deadline_at", "is_completed", "linked_records", "assignees"}
)
_UPDATE_FIELDS = frozenset({"deadline_at", "is_completed", "linked_records", "assignees"})


@dataclass
class Task:
    id: str
    content: str
    deadline_at: str | None
    is_completed: bool
    linked_records: list[tuple[str, str]]  # (object id, record id)
    assignees: list[str]  # workspace member ids
    created_by_actor: Actor
    created_at: str = field(default_factory=now_timestamp)


class Tasks:
    def __init__(self, workspace_id: str, members: tuple[WorkspaceMember, ...]) -> None:
        self.workspace_id = workspace_id
        self.members = members
        self.tasks: dict[str, Task] = {}
        self._members_since = now_timestamp()

    # Members ---------------------------------------------------------------------------------

    def render_member(self, member: WorkspaceMember) -> dict[str, Any]:
        return member.render(self.workspace_id, self._members_since)

    def member(self, member_id: str) -> WorkspaceMember:
        found = next((m for m in self.members if m.id == member_id), None)
        if found is None:
            raise not_found(f'Workspace member with ID "{member_id}" not found.')
        return found

    # Tasks -------------------------------------------------------------------------------------

    def create(self, data: dict[str, Any], store: Workspace, actor: Actor) -> Task:
        unknown, missing = set(data) - _CREATE_FIELDS, _CREATE_FIELDS - set(data)
        if unknown or missing:
            names = ", ".join(sorted(unknown or missing))
            raise validation_error(f"{'Unknown' if unknown else 'Missing'} task fields: {names}.")
        content = data["content"]
        if not isinstance(content, str) or len(content) > MAX_CONTENT:
            raise validation_error(f'"content" must be a string of at most {MAX_CONTENT} chars.')
        if data["format"] != "plaintext":
            raise validation_error('"format" must be "plaintext".')
        task = Task(
            id=str(uuid.uuid4()),
            content=content,
            deadline_at=self._deadline(data["deadline_at"]),
            is_completed=self._flag(data["is_completed"]),
            linked_records=self._links(data["linked_records"], store),
            assignees=self._assignees(data["assignees"]),
            created_by_actor=actor,
        )
        self.tasks[task.id] = task
        return task

    def get(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise not_found(f'Task with ID "{task_id}" not found.')
        return task

    def update(self, task_id: str, data: dict[str, Any], store: Workspace) -> Task:
        task = self.get(task_id)
        unknown = set(data) - _UPDATE_FIELDS
        if unknown:
            raise validation_error(f"Unknown task fields: {', '.join(sorted(unknown))}.")
        if "deadline_at" in data:
            task.deadline_at = self._deadline(data["deadline_at"])
        if "is_completed" in data:
            task.is_completed = self._flag(data["is_completed"])
        if "linked_records" in data:
            task.linked_records = self._links(data["linked_records"], store)
        if "assignees" in data:
            task.assignees = self._assignees(data["assignees"])
        return task

    def delete(self, task_id: str) -> None:
        del self.tasks[self.get(task_id).id]

    def listed(
        self, *, is_completed: bool | None = None, assignee: str | None = None
    ) -> list[Task]:
        tasks = list(self.tasks.values())
        if is_completed is not None:
            tasks = [t for t in tasks if t.is_completed is is_completed]
        if assignee is not None:
            wanted = {m.id for m in self.members if assignee in (m.id, m.email_address)}
            tasks = [t for t in tasks if wanted & set(t.assignees)]
        return tasks

    def render(self, task: Task) -> dict[str, Any]:
        return {
            "id": {"workspace_id": self.workspace_id, "task_id": task.id},
            "content_plaintext": task.content,
            "deadline_at": task.deadline_at,
            "is_completed": task.is_completed,
            "linked_records": [
                {"target_object_id": obj, "target_record_id": rid}
                for obj, rid in task.linked_records
            ],
            "assignees": [
                {"referenced_actor_type": "workspace-member", "referenced_actor_id": member}
                for member in task.assignees
            ],
            "created_by_actor": dict(task.created_by_actor),
            "created_at": task.created_at,
        }

    def clear(self) -> None:
        self.tasks.clear()

    # Checks ------------------------------------------------------------------------------------

    @staticmethod
    def _flag(raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise validation_error('"is_completed" must be true or false.')
        return raw

    @staticmethod
    def _deadline(raw: Any) -> str | None:
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise validation_error('"deadline_at" must be an ISO 8601 timestamp or null.')
        try:
            return parse_timestamp(raw)
        except ValueError:
            raise validation_error('"deadline_at" must be an ISO 8601 timestamp.') from None

    @staticmethod
    def _links(raw: Any, store: Workspace) -> list[tuple[str, str]]:
        if not isinstance(raw, list):
            raise validation_error('"linked_records" must be an array.')
        links = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("target_object"), str):
                raise validation_error('Each linked record needs "target_object".')
            record_id = item.get("target_record_id")
            if not isinstance(record_id, str):
                raise validation_error('Each linked record needs "target_record_id".')
            obj = store.get_object(item["target_object"])
            store.get_record(obj.id, record_id)  # 404 when it does not exist
            links.append((obj.id, record_id))
        return links

    def _assignees(self, raw: Any) -> list[str]:
        if not isinstance(raw, list):
            raise validation_error('"assignees" must be an array.')
        ids = []
        for item in raw:
            if not isinstance(item, dict):
                raise validation_error("Each assignee must be an object.")
            email = item.get("workspace_member_email_address")
            if email is not None:
                match = next((m for m in self.members if m.email_address == email), None)
                if match is None:
                    raise validation_error(f'No workspace member has the email "{email}".')
                ids.append(match.id)
                continue
            if item.get("referenced_actor_type") != "workspace-member":
                raise validation_error("Only workspace members can be assigned to tasks.")
            ids.append(self.member(str(item.get("referenced_actor_id"))).id)
        return ids
