"""PEFT methods; importing this package registers every one of them."""

from shared.methods import baselines, bias_and_norm, bottleneck, peft_bridge, ssf  # noqa: F401
from shared.methods.registry import get_method, method_config_from_mapping, method_names

__all__ = ["get_method", "method_config_from_mapping", "method_names"]
