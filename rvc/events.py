"""The job event protocol of DESIGN.md: one JSON object per line on stdout, or a progress bar on a terminal.

Long commands report through an `EventSink`. When stdout is not a terminal (a job runner, a check, a pipe)
every event is a JSON line that `rvc.jobs` parses; on a terminal a person gets a progress bar and messages.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


class EventSink:
    """Writes progress, metric, log, artifact, result and error events."""

    def __init__(self, stream: TextIO | None = None, json_lines: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.json_lines = not self.stream.isatty() if json_lines is None else json_lines
        self._bars: dict[str, Any] = {}

    def emit(self, event: dict[str, Any]) -> None:
        if self.json_lines:
            self.stream.write(json.dumps(event, default=str) + "\n")
            self.stream.flush()
        else:
            self._render(event)

    def progress(self, stage: str, done: int, total: int, message: str = "") -> None:
        self.emit({"type": "progress", "stage": stage, "done": done, "total": total, "message": message})

    def metric(self, step: int, epoch: int, **values: float) -> None:
        self.emit({"type": "metric", "step": step, "epoch": epoch, **values})

    def log(self, message: str, level: str = "info") -> None:
        self.emit({"type": "log", "level": level, "message": message})

    def artifact(self, kind: str, path: str) -> None:
        self.emit({"type": "artifact", "kind": kind, "path": str(path)})

    def result(self, data: dict[str, Any], status: str = "completed") -> None:
        self.emit({"type": "result", "status": status, "data": data})

    def error(self, message: str, detail: str = "") -> None:
        self.emit({"type": "error", "message": message, "detail": detail})

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def _render(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "progress":
            self._render_progress(event)
        elif kind == "metric":
            values = ", ".join(f"{k}={v:.4g}" for k, v in event.items() if isinstance(v, float))
            self._write(f"step {event['step']} (epoch {event['epoch']}): {values}")
        elif kind == "log":
            self._write(("" if event["level"] == "info" else f"{event['level'].upper()}: ") + event["message"])
        elif kind == "artifact":
            self._write(f"wrote {event['kind']}: {event['path']}")
        elif kind == "error":
            self._write(f"ERROR: {event['message']}" + (f"\n{event['detail']}" if event["detail"] else ""))
        elif kind == "result" and event["status"] != "completed":
            self._write(f"finished: {event['status']}")

    def _render_progress(self, event: dict[str, Any]) -> None:
        from tqdm import tqdm

        stage = event["stage"]
        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=event["total"], desc=stage, file=self.stream, leave=True)
        bar.total = event["total"]
        bar.n = event["done"]
        if event["message"]:
            bar.set_postfix_str(event["message"], refresh=False)
        bar.refresh()
        if event["done"] >= event["total"]:
            bar.close()
            del self._bars[stage]

    def _write(self, text: str) -> None:
        if self._bars:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()
