"""Building blocks shared by mmcd_ext models (registered in ``MODELS``)."""
from .qkv_lora import QKVLoRALinear
from .time_travelling_gate import TimeTravellingGate
__all__ = ['QKVLoRALinear', 'TimeTravellingGate']
