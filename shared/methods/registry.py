"""The single list of PEFT method names, with each method's config class and how to apply it.

Following `peft`, every method registers itself once (duplicates are rejected) and is looked up
by the name a user writes in `method.name`; nothing else in the suite keeps a list of methods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError
from torch import nn

from shared.architectures import ArchitecturePreset


@dataclass
class MethodConfig:
    """Fields every method accepts.

    Attributes:
        name: the registered method name.
        target_modules: where the method goes: a regex matched against full module names, or a
            list of name suffixes (as in peft). None takes the architecture preset.
        head_modules: the task head, which always trains. None finds it from the model.
        family: the architecture family; None detects it from the model.
        learning_rate: the method's default learning rate (optim.lr overrides it).
        train_batchnorm_statistics: whether BatchNorm running statistics update in training.
            Off for PEFT methods: with batch statistics, a BatchNorm undoes any per-channel
            scale or shift of its input, which is what SSF and IA3 learn on convolutions.
    """

    name: str = ""
    target_modules: Any = None  # str | list[str] | None: a union OmegaConf cannot type-check
    head_modules: list[str] | None = None
    family: str | None = None
    learning_rate: float = 1e-3
    train_batchnorm_statistics: bool = False

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"method.learning_rate must be positive, got {self.learning_rate}")
        check_target_modules(self.target_modules)


def check_target_modules(value: Any) -> None:
    """None, a regex, or a non-empty list of name suffixes; `[]` would silently mean the preset."""
    if value is None or (isinstance(value, str) and value):
        return
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(item, str) and item for item in value)
    ):
        return
    raise ValueError(
        f"method.target_modules must be null (the architecture preset), a regex, or a non-empty "
        f"list of module-name suffixes, got {value!r}"
    )


@dataclass
class AppliedMethod:
    """What a method's `apply` returns: the model to train and where the method went."""

    model: nn.Module
    adapted_modules: list[str] = field(default_factory=list)
    skipped_modules: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodContext:
    """What a method needs to know about the model it is applied to."""

    preset: ArchitecturePreset | None
    head_names: list[str]


ApplyFunction = Callable[[nn.Module, Any, MethodContext], AppliedMethod]


@dataclass(frozen=True)
class MethodSpec:
    """One registered method.

    Attributes:
        merge: folds the trained method into plain base weights and returns the plain model;
            None for methods that add computation no weight can absorb.
        uses_peft: whether the method is applied through `peft` (which wraps the model).
    """

    name: str
    config_class: type[MethodConfig]
    apply: ApplyFunction
    merge: Callable[[nn.Module], nn.Module] | None
    uses_peft: bool
    summary: str


_METHODS: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> None:
    """Add a method; a second registration under the same name is a programming error.

    The method's config class also becomes the `method=<name>` option of Hydra's config group,
    so its dataclass is the one source of the method's defaults and field types.
    """
    if spec.name in _METHODS:
        raise ValueError(f"method {spec.name!r} is registered twice")
    _METHODS[spec.name] = spec
    ConfigStore.instance().store(
        group="method", name=spec.name, node=spec.config_class(name=spec.name)
    )


def method_names() -> list[str]:
    return sorted(_METHODS)


def get_method(name: str) -> MethodSpec:
    """The registered method called `name`; an unknown name lists the valid ones."""
    try:
        return _METHODS[name]
    except KeyError:
        raise ValueError(
            f"method.name: unknown method {name!r}; choose one of {method_names()}"
        ) from None


def method_config_from_mapping(values: Mapping[str, Any]) -> MethodConfig:
    """Build the config of the method named in `values['name']`, checking names and types.

    Raises:
        ValueError: one line naming the field (`method.r`) and what would be right.
    """
    if "name" not in values:
        raise ValueError(f"method.name is missing; choose one of {method_names()}")
    spec = get_method(str(values["name"]))
    known = {f.name for f in dataclasses.fields(spec.config_class)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"method.{unknown[0]}: unknown field for method {spec.name!r}; "
            f"valid fields: {sorted(known)}"
        )
    try:
        typed = OmegaConf.merge(OmegaConf.structured(spec.config_class), dict(values))
    except ValidationError as error:
        raise ValueError(
            f"method.{error.full_key}: {str(error).splitlines()[0]} (method {spec.name!r})"
        ) from None
    return OmegaConf.to_object(typed)
