"""An in-memory stand-in for the parts of `rvc.service` the tabs call, so callbacks are tested without jobs."""

from __future__ import annotations

import itertools

from rvc import service

STEPS = ("none", "preprocessed", "extracted", "trained", "indexed", "exported")


class FakeService:
    """Trainings and tasks as dicts; each started task "runs" as a scripted list of events. Tasks have no owner
    here (``owner`` is accepted and ignored): ownership is tested against the real service."""

    def __init__(self, events: list[dict] | None = None) -> None:
        self.trainings: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.calls: list[tuple[str, tuple, dict]] = []
        self.metrics: list[dict] = []
        self.script = events if events is not None else [
            {"type": "log", "level": "info", "message": "started"},
            {"type": "progress", "stage": "work", "done": 1, "total": 2, "message": ""},
            {"type": "progress", "stage": "work", "done": 2, "total": 2, "message": ""},
            {"type": "artifact", "kind": "model", "path": "/out/model.pth"},
            {"type": "status", "status": "completed", "error": None},
        ]
        self._ids = itertools.count(1)

    # --- tasks ---
    def _task(self, kind: str, training_id: str | None = None) -> dict:
        task_id = f"task{next(self._ids)}"
        task = {"id": task_id, "kind": kind, "status": "queued", "progress": {"done": 0, "total": 0, "stage": "",
                "message": ""}, "params": {}, "created": 0.0, "started": None, "finished": None, "error": None,
                "result": None, "training_id": training_id}
        self.tasks[task_id] = task
        return dict(task)

    def get_task(self, task_id: str, owner=None) -> dict:
        if task_id not in self.tasks:
            raise LookupError(f"task {task_id!r} not found")
        return dict(self.tasks[task_id])

    def follow_task(self, task_id: str, from_seq: int = 0):
        task = self.tasks[task_id]
        for seq, event in enumerate(self.script):
            flat = {**event, "task_id": task_id, "seq": seq, "created": 0.0}
            if event["type"] == "status":
                task["status"] = event["status"]
                task["error"] = event.get("error")
            elif event["type"] == "progress":
                task["progress"] = {k: event[k] for k in ("done", "total", "stage", "message")}
            yield flat

    def task_outputs(self, task_id: str, owner=None) -> list[dict]:
        paths = [e["path"] for e in self.script if e["type"] == "artifact"]
        return [{"name": p.rsplit("/", 1)[-1], "path": p, "kind": e.get("kind", "file"), "size_bytes": 1}
                for p, e in zip(paths, [e for e in self.script if e["type"] == "artifact"], strict=True)]

    def task_events(self, task_id: str, from_seq: int = 0, owner=None) -> list[dict]:
        return [{**e, "task_id": task_id, "seq": i, "created": 0.0} for i, e in enumerate(self.script)]

    def list_tasks(self, kind=None, status=None, limit=50, offset=0, owner=None) -> dict:
        items = [t for t in self.tasks.values() if kind in (None, t["kind"]) and status in (None, t["status"])]
        return {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}

    def cancel_task(self, task_id: str, owner=None) -> dict:
        self.tasks[task_id]["status"] = "cancelled"
        return self.get_task(task_id)

    # --- trainings ---
    def create_training(self, name, target_sr, if_f0, version, dataset_path, config=None) -> dict:
        self.calls.append(("create_training", (name, target_sr, if_f0, version, dataset_path), {"config": config}))
        if any(t["name"] == name for t in self.trainings.values()):
            raise ValueError(f"a training named {name!r} exists")
        training = {"id": f"tr{len(self.trainings) + 1}", "name": name, "target_sr": target_sr, "if_f0": if_f0,
                    "version": version, "dataset_path": dataset_path, "current_step": "none", "config": config or {},
                    "created": 0.0, "updated": 0.0}
        self.trainings[training["id"]] = training
        return dict(training)

    def list_trainings(self, limit=50, offset=0) -> dict:
        items = list(self.trainings.values())
        return {"items": items[offset:offset + limit], "total": len(items), "limit": limit, "offset": offset}

    def get_training(self, training_id: str) -> dict:
        training = self.trainings[training_id]
        tasks = {t["kind"]: dict(t) for t in self.tasks.values() if t["training_id"] == training_id}
        return {**training, "tasks": tasks, "checkpoints": training.get("checkpoints_", []), "has_index": False,
                "exported_models": []}

    def update_training(self, training_id: str, config=None) -> dict:
        self.calls.append(("update_training", (training_id,), {"config": config}))
        self.trainings[training_id]["config"] = config
        return dict(self.trainings[training_id])

    def _step(self, kind: str, training_id: str, **options) -> dict:
        self.calls.append((f"start_{kind}", (training_id,), options))
        return self._task(kind, training_id)

    def start_preprocess(self, training_id, params=None):
        return self._step("preprocess", training_id, **(params or service.PreprocessParams()).to_dict())

    def start_extract(self, training_id, params=None):
        return self._step("extract", training_id, **(params or service.ExtractParams()).to_dict())

    def start_train(self, training_id, params=None):
        return self._step("train", training_id, **(params or service.TrainParams()).to_dict())

    def start_index(self, training_id):
        return self._step("index", training_id)

    def start_export(self, training_id, params=None):
        return self._step("export", training_id, **(params or service.ExportParams()).to_dict())

    def start_oneclick(self, name, dataset_path, params=None, config=None):
        params = params or service.OneClickParams()
        training = self.create_training(name, params.sample_rate, params.f0, params.version, dataset_path)
        return self._step("oneclick", training["id"], **params.to_dict())

    def preprocess_report(self, training_id):
        return {"clips": 3, "pieces": 12} if self.trainings[training_id]["current_step"] != "none" else None

    def preprocess_samples(self, training_id, k=5):
        return [{"name": f"0_{i}.wav", "path": f"/pieces/0_{i}.wav"} for i in range(k)]

    def training_metrics(self, training_id, since_step=None, limit=None):
        return [m for m in self.metrics if since_step is None or m["step"] > since_step]

    # --- files ---
    def client_path(self, path):
        from pathlib import Path

        return Path(path)

    def get_settings(self) -> dict:
        return {"default_f0_method": "rmvpe", "device": "auto", "upload_limit_mb": 1, "allowed_paths": [],
                "compile_decoder": False}

    def save_upload(self, filename, stream, limit_bytes=None, folder=None, owner=None) -> dict:
        data = stream.read()
        self.calls.append(("save_upload", (filename, len(data), limit_bytes), {"folder": folder, "owner": owner}))
        return {"path": f"/uploads/{folder + '/' if folder else ''}{filename}"}


NAMES = [name for name in vars(FakeService) if not name.startswith("_")]


def install(monkeypatch, fake: FakeService) -> FakeService:
    """Put the fake's functions on `rvc.service`, where every tab looks them up."""
    from rvc import service

    for name in NAMES:
        monkeypatch.setattr(service, name, getattr(fake, name), raising=False)
    return fake
