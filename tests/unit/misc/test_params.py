"""Each action's parameters are described once (`rvc.params`) and every front end's view is derived from it."""

from __future__ import annotations

import argparse

import pytest
from pydantic import ValidationError

from rvc import service
from rvc.params import ParameterError, Params
from rvc.train.params import ExportParams, ExtractParams, IndexParams, OneClickParams, PreprocessParams, TrainParams

ACTIONS: list[type[Params]] = [service.ConvertParams, PreprocessParams, ExtractParams, TrainParams, IndexParams,
                               OneClickParams, ExportParams]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
def test_the_defaults_are_valid_and_go_through_every_view_unchanged(action: type[Params]) -> None:
    defaults = action().validate()
    parser = argparse.ArgumentParser()
    action.add_arguments(parser)
    assert action.from_args(parser.parse_args([])) == defaults
    assert action.from_args(parser.parse_args(defaults.to_argv())) == defaults
    assert action.from_model(action.request_model()()) == defaults
    assert action.from_dict(defaults.to_dict()) == defaults


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
def test_ui_ranges_are_the_validation_ranges(action: type[Params]) -> None:
    """A slider can reach exactly what validation accepts (the UI once allowed 8000 Hz and refused 48 semitones)."""
    for item in action.fields():
        control = action.control(item.name)
        for value in control.get("choices", []):
            action().replace(**{item.name: value}).validate()
        if "minimum" in control:
            for value in (control["minimum"], control["maximum"]):
                action().replace(**{item.name: value}).validate()
            beyond = control["maximum"] + control["step"]
            with pytest.raises(ParameterError, match=item.name):
                action().replace(**{item.name: beyond}).validate()


def test_every_out_of_range_value_is_named_with_what_is_allowed() -> None:
    with pytest.raises(ParameterError, match=r"transpose=49 is out of range: use between -48 and 48 semitones"):
        service.ConvertParams(transpose=49).validate()
    with pytest.raises(ParameterError, match=r"resample_sr=8000 .* use 0 \(keep the model's rate\) or between 16000"):
        service.ConvertParams(resample_sr=8000).validate()
    with pytest.raises(ParameterError, match="f0_method='yin' .* one of pm, harvest"):
        ExtractParams(f0_method="yin").validate()
    with pytest.raises(ParameterError, match="devices='gpu'"):
        TrainParams(devices="gpu").validate()


def test_the_v2_api_names_are_aliases() -> None:
    assert PreprocessParams.from_dict({"thread_count": 8}) == PreprocessParams(n_proc=8)
    assert IndexParams.from_dict({"thread_count": 2}).to_argv() == ["--n-cpu", "2"]
    assert ExtractParams.from_dict({"f0_method": "rmvpe", "gpu_id": 0}) == ExtractParams("rmvpe", "0")
    assert TrainParams.from_dict({"total_epoch": 100, "batch_size": 8, "save_every_epoch": 5, "gpu_id": 0}) == \
        TrainParams(epochs=100, batch_size=8, save_every=5, devices="0")
    with pytest.raises(ParameterError, match="epochs given twice"):
        TrainParams.from_dict({"epochs": 1, "total_epoch": 2})
    with pytest.raises(ParameterError, match="unknown parameter.*: epoch; valid names: epochs"):
        TrainParams.from_dict({"epoch": 1})


def test_loose_values_are_coerced_and_nonsense_refused() -> None:
    assert TrainParams.from_dict({"epochs": "30", "latest_only": "true", "batch_size": 4.0}) == \
        TrainParams(epochs=30, latest_only=True, batch_size=4)
    with pytest.raises(ParameterError, match="epochs=2.5 is not a whole number"):
        TrainParams.from_dict({"epochs": 2.5})
    with pytest.raises(ParameterError, match="latest_only='maybe' is not true or false"):
        TrainParams.from_dict({"latest_only": "maybe"})


def test_the_request_models_are_typed_with_ranges_defaults_and_aliases() -> None:
    schema = TrainParams.request_model().model_json_schema()
    epochs = schema["properties"]["epochs"]
    assert (epochs["type"], epochs["default"], epochs["minimum"]) == ("integer", 20, 1)
    assert "counted from 1" in epochs["description"]
    assert schema["properties"]["devices"]["default"] == "auto"
    enum = ExtractParams.request_model().model_json_schema()["properties"]["f0_method"]["enum"]
    assert enum == list(service.F0_METHODS)
    body = TrainParams.request_model().model_validate({"total_epoch": 100, "gpu_id": 0})
    assert TrainParams.from_model(body) == TrainParams(epochs=100, devices="0")
    with pytest.raises(ValidationError):
        TrainParams.request_model().model_validate({"epochs": 0})
    with pytest.raises(ValidationError):
        TrainParams.request_model().model_validate({"epoch": 10})


def test_none_is_said_on_the_command_line_where_leaving_an_option_out_means_auto() -> None:
    params = TrainParams(pretrained_g=None, pretrained_d="/base/D.pth")
    argv = params.to_argv()
    assert argv[argv.index("--pretrained-g") + 1] == "none"
    parser = argparse.ArgumentParser()
    TrainParams.add_arguments(parser)
    assert TrainParams.from_args(parser.parse_args(argv)) == params
    assert TrainParams.from_args(parser.parse_args(["--total-epoch", "7"])).epochs == 7  # aliases work here too


def test_each_field_is_declared_once() -> None:
    """The parameter names are fields of one class each (a second class declaring `epochs` would be a copy)."""
    owners: dict[str, set[str]] = {}
    for action in (service.ConvertParams, TrainParams):
        for name in action.names():
            owners.setdefault(name, set()).add(action.__name__)
    assert all(len(classes) == 1 for classes in owners.values()), owners
