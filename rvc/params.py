"""Each action's parameters described once: a frozen dataclass whose fields carry their help, range, unit and aliases.

    @dataclass(frozen=True)
    class TrainParams(Params):
        epochs: int = param(20, "train up to this epoch, counted from 1", minimum=1, aliases=("total_epoch",))

Everything else is derived from that one declaration: `Params.validate` and `Params.from_dict` (loose input, with
the aliases of the RVC WebUI v2 API such as ``total_epoch``), the command line's options (`add_arguments`,
`from_args`) and a job's argv (`to_argv`), the REST API's typed request model (`request_model`, pydantic, so OpenAPI
shows types, ranges and defaults) and a Gradio control's range (`control`). Nothing else lists the fields.

On a command line an optional field whose default is not None is given None as the word "none"
(``--pretrained-g none``: no base model, where leaving the option out means its default, "auto").
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, create_model

NONE_WORD = "none"


class ParameterError(ValueError):
    """A parameter out of range, of the wrong type or unknown, named with what is allowed."""


@dataclass(frozen=True)
class Spec:
    """What a field means and accepts, besides its name, type and default (which the dataclass holds)."""

    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    unit: str = ""
    aliases: tuple[str, ...] = ()
    step: float | None = None  # a UI slider's step
    zero_means: str | None = None  # 0 is also accepted, outside the range, meaning this ("keep the model's rate")
    suggestions: tuple[Any, ...] | None = None  # the values a UI offers (others in range are accepted too)

    def allowed(self) -> str:
        """The accepted values in words, for error messages and help."""
        unit = f" {self.unit}" if self.unit else ""
        if self.choices is not None:
            text = f"one of {', '.join(map(str, self.choices))}"
        elif self.minimum is not None and self.maximum is not None:
            text = f"between {_number(self.minimum)} and {_number(self.maximum)}{unit}"
        elif self.minimum is not None:
            text = f"at least {_number(self.minimum)}{unit}"
        else:
            return ""
        return f"0 ({self.zero_means}) or {text}" if self.zero_means else text

    def accepts(self, value: Any) -> bool:
        if value is None or (self.zero_means and value == 0):
            return True
        if self.choices is not None:
            return value in self.choices
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def param(default: Any, help: str, **spec: Any) -> Any:  # noqa: A002 (the ecosystem's word for it)
    """A dataclass field with its `Spec`: ``param(0.75, "how much of the index to blend", minimum=0, maximum=1)``."""
    return dataclasses.field(default=default, metadata={"spec": Spec(help, **spec)})


@dataclass(frozen=True)
class ParamField:
    """One parameter as the derivations see it."""

    name: str
    kind: type  # int, float, bool or str (the type without None)
    optional: bool  # None is accepted
    default: Any
    spec: Spec

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def options(self) -> list[str]:
        """The option and one per alias (``--total-epoch`` for epochs), as the command line accepts them."""
        return [self.option, *("--" + alias.replace("_", "-") for alias in self.spec.aliases)]


def _kind_of(annotation: Any) -> tuple[type, bool]:
    arguments = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [argument for argument in arguments if argument is not type(None)]
        return kinds[0], len(kinds) < len(arguments)
    return annotation, False


class Params:
    """The base of every action's parameter dataclass (see the module docstring)."""

    action: ClassVar[str]  # what the parameters are of, for messages: "conversion", "training"...

    @classmethod
    @functools.cache
    def fields(cls) -> tuple[ParamField, ...]:
        hints = typing.get_type_hints(cls)
        described = []
        for item in dataclasses.fields(cls):
            kind, optional = _kind_of(hints[item.name])
            described.append(ParamField(item.name, kind, optional, item.default, item.metadata["spec"]))
        return tuple(described)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(item.name for item in cls.fields())

    @classmethod
    def field(cls, name: str) -> ParamField:
        return next(item for item in cls.fields() if item.name == name)

    def validate(self) -> Self:
        """Raise `ParameterError` naming the first parameter out of range; return self."""
        for item in self.fields():
            value = getattr(self, item.name)
            if value is None and not item.optional:
                raise ParameterError(f"{item.name} is required")
            if not item.spec.accepts(value):
                raise ParameterError(f"{item.name}={value!r} is out of range: use {item.spec.allowed()}")
        self._check()
        return self

    def _check(self) -> None:  # noqa: B027 (a hook: most actions have no rule across fields)
        """Rules the fields' specs cannot say (a file that must exist, two fields that must agree)."""

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Self:
        """Build from loose input (JSON, form fields, an older client's names): aliases are mapped to the field,
        types coerced, unknown names refused; then validated."""
        by_name = {name: item for item in cls.fields() for name in (item.name, *item.spec.aliases)}
        unknown = sorted(set(values) - set(by_name))
        if unknown:
            raise ParameterError(f"unknown parameter(s) of a {cls.action}: {', '.join(unknown)}; "
                                 f"valid names: {', '.join(cls.names())}")
        coerced: dict[str, Any] = {}
        for name, value in values.items():
            item = by_name[name]
            if item.name in coerced:
                raise ParameterError(f"{item.name} given twice (as {name} too)")
            coerced[item.name] = _coerce(item, value)
        return cls(**coerced).validate()

    # --- the command line and a job's argv ---------------------------------------------------------------

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
        for item in cls.fields():
            if item.name in skip:
                continue
            allowed = item.spec.allowed()
            text = item.spec.help + (f" ({allowed})" if allowed and item.spec.choices is None else "")
            if item.kind is bool:
                parser.add_argument(*item.options, dest=item.name, action=argparse.BooleanOptionalAction,
                                    default=item.default, help=text)
            else:
                parser.add_argument(*item.options, dest=item.name, type=item.kind, default=item.default,
                                    choices=item.spec.choices, help=f"{text} (default: {item.default})")

    @classmethod
    def from_args(cls, args: argparse.Namespace, **given: Any) -> Self:
        """The parameters of parsed options (those this class added), with ``given`` ones besides."""
        values = {item.name: None if item.optional and getattr(args, item.name) == NONE_WORD
                  else getattr(args, item.name) for item in cls.fields() if item.name not in given}
        return cls(**values, **given).validate()

    def to_argv(self) -> list[str]:
        """The options that give these parameters back through `add_arguments` (None ones left out)."""
        argv: list[str] = []
        for item in self.fields():
            value = getattr(self, item.name)
            if item.kind is bool:
                argv.append(item.option if value else "--no-" + item.option[2:])
            elif value is not None:
                argv += [item.option, str(value)]
            elif item.default is not None:
                argv += [item.option, NONE_WORD]
        return argv

    # --- the REST API and the WebUI ----------------------------------------------------------------------

    @classmethod
    @functools.cache
    def request_model(cls) -> type[BaseModel]:
        """A pydantic model of the fields, with their ranges, choices, defaults, help and aliases (a body that
        misspells a name is refused; numbers are accepted for text fields, as ``"gpu_id": 0`` for devices)."""
        definitions: dict[str, Any] = {}
        for item in cls.fields():
            annotation: Any = Literal[item.spec.choices] if item.spec.choices is not None else item.kind
            if item.optional:
                annotation = annotation | None
            bounds = {} if item.spec.zero_means else {"ge": item.spec.minimum, "le": item.spec.maximum}
            allowed = item.spec.allowed()
            definitions[item.name] = (annotation, Field(
                item.default, description=item.spec.help + (f"; {allowed}" if allowed else ""),
                validation_alias=AliasChoices(item.name, *item.spec.aliases), **bounds))
        config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, populate_by_name=True)
        return create_model(f"{cls.__name__}Body", __config__=config, **definitions)

    @classmethod
    def from_model(cls, body: BaseModel) -> Self:
        return cls(**body.model_dump()).validate()

    @classmethod
    def control(cls, name: str) -> dict[str, Any]:
        """A Gradio control's range, step and default for field ``name``: the keyword arguments of a Slider,
        Number or Radio (labels and their translations stay with the tab)."""
        item = cls.field(name)
        if item.spec.choices is not None or item.spec.suggestions is not None:
            return {"choices": list(item.spec.choices or item.spec.suggestions), "value": item.default}
        control: dict[str, Any] = {"value": item.default}
        if item.spec.minimum is not None and item.spec.maximum is not None:
            control |= {"minimum": 0 if item.spec.zero_means else item.spec.minimum, "maximum": item.spec.maximum}
            control["step"] = item.spec.step or (1 if item.kind is int else 0.01)
        return control


def _coerce(item: ParamField, value: Any) -> Any:
    if value is None:
        return None
    try:
        if item.kind is bool:
            if isinstance(value, str):
                return {"true": True, "false": False, "1": True, "0": False}[value.strip().lower()]
            return bool(value)
        if item.kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if item.kind is float:
            return float(value)
        return str(value)
    except (KeyError, TypeError, ValueError) as error:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(item.kind, "text")
        raise ParameterError(f"{item.name}={value!r} is not {kind}") from error
