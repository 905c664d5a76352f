"""Admin-only callbacks: Gradio hands them the request, and a guest's call is refused with a clear message."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import gradio as gr
import pytest
from gradio.helpers import special_args

from tabs import common, inference, models, system, tasks, train

ADMIN, GUEST = gr.Request(username="boss"), gr.Request(username="visitor")


@pytest.fixture()
def logins() -> Iterator[None]:
    """A page with logins where 'boss' is the admin (any other user a guest)."""
    common.set_admins({"boss"})
    yield
    common.set_admins(None)


@common.admin_only
def rename(model: str, new_name: str, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
    return f"{model} -> {new_name}"


@common.admin_only
def steps(count: int) -> Iterator[int]:
    yield from range(count)


def test_without_logins_everyone_is_the_admin():
    assert common.is_admin(None) and common.is_admin(GUEST)
    assert rename("a", "b") == "a -> b" and rename("a", "b", request=GUEST) == "a -> b"


def test_a_guest_is_refused_and_an_admin_served(logins):
    assert rename("a", "b", gr.Progress(), ADMIN) == "a -> b"
    assert list(steps(3, request=ADMIN)) == [0, 1, 2]
    for call in (lambda: rename("a", "b", request=GUEST), lambda: list(steps(3, GUEST)), lambda: rename("a", "b")):
        with pytest.raises(gr.Error, match="needs an admin login"):
            call()


def test_gradio_passes_the_request_after_the_inputs_and_progress():
    inputs, progress_index, _, _ = special_args(rename, ["a", "b"], request=ADMIN)
    assert progress_index == 2 and inputs[:2] == ["a", "b"] and inputs[3] is ADMIN
    assert special_args(common.user_errors(rename), ["a", "b"], request=ADMIN)[0][3] is ADMIN


@pytest.mark.parametrize("callback", [
    train.preprocess, train.extract, train.train, train.pause, train.resume, train.build_index, train.export,
    models.rename, models.delete, models.set_info, models.merge, models.export_onnx, models.import_model,
    models.extract_small, system.download, system.save_settings, tasks.delete,
])
def test_every_changing_action_is_admin_only(callback, logins):
    parameters = list(inspect.signature(callback).parameters)
    assert parameters[-1] == "request"
    with pytest.raises(gr.Error, match="needs an admin login"):
        result = callback(*[None] * (len(parameters) - 1), request=GUEST)
        if isinstance(result, Iterator):
            next(result)


def test_a_guest_converts_uploads_but_names_no_server_path(logins, tmp_path):
    params = ["tiny", "auto", 0, "pm", 0.75, 3, 0, 0.25, 0.33, 0, 0.66666, None, "wav"]
    with pytest.raises(gr.Error, match="needs an admin login"):
        inference.convert(None, str(tmp_path), *params, request=GUEST)
    with pytest.raises(gr.Error, match="needs an admin login"):
        list(inference.convert_batch([], str(tmp_path), *params, request=GUEST))
    with pytest.raises(gr.Error, match="Upload an audio file"):  # past the role check: nothing to convert
        inference.convert(None, " ", *params, request=GUEST)
