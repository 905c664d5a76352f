"""Tasks tab: the history of jobs with filters and pages, the progress of running ones, cancel, logs, outputs.

On a page with logins a guest's tab holds only the tasks it submitted (another's id is "not found"); an admin's
holds every task.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import gradio as gr
import pandas as pd

from rvc import service
from tabs.common import (
    admin_only,
    event_fields,
    follow,
    for_json,
    log_line,
    require,
    task_owner,
    task_view,
    user_errors,
)
from tabs.i18n import t

ALL = "all"
KINDS = [ALL, *service.TASK_KINDS]
STATUSES = [ALL, "queued", "running", "paused", "completed", "failed", "cancelled", "interrupted"]
COLUMNS = ["id", "kind", "status", "progress", "created", "duration", "error"]
PAGE_SIZE = 20
REFRESH_S = 3


def _progress_text(task: dict) -> str:
    progress = task.get("progress") or {}
    if progress.get("total"):
        return f"{progress.get('stage', '')} {progress['done']}/{progress['total']}".strip()
    return progress.get("stage", "")


def _duration(task: dict) -> str:
    if not task.get("started"):
        return ""
    return f"{(task.get('finished') or time.time()) - task['started']:.0f} s"


@user_errors
def list_page(kind: str, status: str, page: float, request: gr.Request | None = None) -> tuple[pd.DataFrame, str]:
    page = max(int(page or 1), 1)
    found = service.list_tasks(kind=None if kind in (ALL, "", None) else kind,
                               status=None if status in (ALL, "", None) else status,
                               limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, owner=task_owner(request))
    rows = [[task["id"], task["kind"], task["status"], _progress_text(task),
             time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(task["created"])), _duration(task),
             (task.get("error") or "")[:120]] for task in found["items"]]
    pages = max((found["total"] + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return pd.DataFrame(rows, columns=COLUMNS), f"page {page} of {pages} · {found['total']} task(s)"


def select_row(table: pd.DataFrame, event: gr.SelectData) -> str | None:
    row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
    return str(table.iloc[row, 0]) if table is not None and 0 <= row < len(table) else None


def _log(task_id: str, owner: service.Owner | None) -> str:
    lines = (log_line(*event_fields(event)) for event in service.task_events(task_id, owner=owner))
    return "\n".join(line for line in lines if line is not None)


@user_errors
def detail(task_id: str | None, request: gr.Request | None = None) -> tuple[str, str, list[str], dict]:
    """Status, log, outputs and the task's parameters/result, as stored."""
    if not (task_id or "").strip():
        return "", "", [], {}
    owner = task_owner(request)
    task = service.get_task(task_id.strip(), owner=owner)
    outputs = [item["path"] for item in service.task_outputs(task["id"], owner=owner)]
    return (task_view(task).markdown(), _log(task["id"], owner), outputs,
            for_json({"params": task.get("params"), "result": task.get("result")}))


@user_errors
def follow_task(task_id: str | None, request: gr.Request | None = None) -> Iterator[tuple[str, str, list[str]]]:
    """Live status and log of a task until it ends, then its outputs."""
    task_id = require(task_id, "Choose a task in the list first.")
    owner = task_owner(request)
    view = None
    for view in follow(task_id, owner=owner):
        yield view.markdown(), view.log_text, []
    yield view.markdown(), view.log_text, [item["path"] for item in service.task_outputs(task_id, owner=owner)]


@user_errors
def cancel(task_id: str | None, request: gr.Request | None = None) -> str:
    """Cancel a task (a guest: one of its own)."""
    task = service.cancel_task(require(task_id, "Choose a task in the list first."), owner=task_owner(request))
    return task_view(task).markdown()


@user_errors
@admin_only
def delete(task_id: str | None) -> str:
    task_id = require(task_id, "Choose a task in the list first.")
    service.delete_task(task_id, with_outputs=True)
    return f"Deleted task `{task_id}` and its outputs."


def build() -> None:
    with gr.Tab(t("tasks.tab"), id="tasks"):
        with gr.Row():
            kind = gr.Dropdown(KINDS, value=ALL, allow_custom_value=True, label=t("tasks.kind"))
            status = gr.Dropdown(STATUSES, value=ALL, label=t("tasks.status"))
            page = gr.Number(value=1, precision=0, minimum=1, label=t("tasks.page"))
            auto = gr.Checkbox(value=True, label=t("tasks.auto_refresh"))
            refresh_button = gr.Button(t("ui.refresh"), scale=0)
        table = gr.Dataframe(value=None, headers=COLUMNS, interactive=False, wrap=True, label=t("tasks.list"),
                             show_label=True)
        page_text = gr.Markdown()
        with gr.Row():
            task_id = gr.Textbox(label=t("tasks.task_id"), info=t("tasks.task_id_info"), scale=3)
            follow_button = gr.Button(t("tasks.follow"), scale=0)
            cancel_button = gr.Button(t("tasks.cancel"), variant="stop", scale=0)
            delete_button = gr.Button(t("tasks.delete"), scale=0)
        task_status = gr.Markdown(elem_id="tasks-status")
        with gr.Row():
            task_log = gr.Textbox(label=t("ui.log"), lines=12, max_lines=24, interactive=False, autoscroll=True,
                                  scale=2)
            with gr.Column():
                outputs = gr.File(label=t("tasks.outputs"), file_count="multiple", interactive=False)
                params = gr.JSON(label=t("tasks.params"))
        timer = gr.Timer(REFRESH_S)

        listing = [kind, status, page]
        # on load and whenever a filter or the page changes; the button for an explicit refresh
        gr.on(triggers=None, fn=list_page, inputs=listing, outputs=[table, page_text], api_name="list_tasks")
        refresh_button.click(list_page, inputs=listing, outputs=[table, page_text], api_name=False)
        timer.tick(list_page, inputs=listing, outputs=[table, page_text], api_name=False, show_progress="hidden",
                   concurrency_limit=None)
        auto.change(lambda on: gr.Timer(active=on), inputs=auto, outputs=timer, api_name=False)
        table.select(select_row, inputs=table, outputs=task_id, api_name=False).then(
            detail, inputs=task_id, outputs=[task_status, task_log, outputs, params], api_name=False)
        task_id.submit(detail, inputs=task_id, outputs=[task_status, task_log, outputs, params], api_name="task_detail")
        follow_button.click(follow_task, inputs=task_id, outputs=[task_status, task_log, outputs],
                            api_name="follow_task", concurrency_limit=None)
        cancel_button.click(cancel, inputs=task_id, outputs=task_status, api_name="cancel_task")
        delete_button.click(delete, inputs=task_id, outputs=task_status, api_name="delete_task").then(
            list_page, inputs=listing, outputs=[table, page_text], api_name=False)
