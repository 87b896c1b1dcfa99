"""Attio's `/v2/tasks` and `/v2/workspace_members` routes (create, get, list, update and
delete tasks; list and get members), as the OpenAPI document describes them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from attio_sandbox.bodies import data_object, non_negative_int, ok, read_json, sandbox_state
from attio_sandbox.errors import validation_error

router = APIRouter(prefix="/v2")


@router.get("/workspace_members")
async def list_members(request: Request) -> JSONResponse:
    tasks = sandbox_state(request).tasks
    return ok([tasks.render_member(member) for member in tasks.members])


@router.get("/workspace_members/{member_id}")
async def get_member(request: Request, member_id: str) -> JSONResponse:
    tasks = sandbox_state(request).tasks
    return ok(tasks.render_member(tasks.member(member_id)))


def _flag(raw: str | None) -> bool | None:
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise validation_error('"is_completed" must be true or false.')
    return raw == "true"


@router.get("/tasks")
async def list_tasks(request: Request) -> JSONResponse:
    tasks = sandbox_state(request).tasks
    params = request.query_params
    limit = non_negative_int(params.get("limit"), "limit", 500)
    offset = non_negative_int(params.get("offset"), "offset", 0)
    found = tasks.listed(
        is_completed=_flag(params.get("is_completed")), assignee=params.get("assignee")
    )
    if params.get("sort") == "created_at:desc":
        found.reverse()
    return ok([tasks.render(task) for task in found[offset : offset + limit]])


@router.post("/tasks")
async def create_task(request: Request) -> JSONResponse:
    state = sandbox_state(request)
    data = data_object(await read_json(request))
    task = state.tasks.create(data, state.store, state.store.actor)
    return ok(state.tasks.render(task))


@router.get("/tasks/{task_id}")
async def get_task(request: Request, task_id: str) -> JSONResponse:
    tasks = sandbox_state(request).tasks
    return ok(tasks.render(tasks.get(task_id)))


@router.patch("/tasks/{task_id}")
async def update_task(request: Request, task_id: str) -> JSONResponse:
    state = sandbox_state(request)
    state.tasks.get(task_id)  # an unknown task is a 404 before any body check
    data = data_object(await read_json(request))
    return ok(state.tasks.render(state.tasks.update(task_id, data, state.store)))


@router.delete("/tasks/{task_id}")
async def delete_task(request: Request, task_id: str) -> JSONResponse:
    sandbox_state(request).tasks.delete(task_id)
    return JSONResponse({})
