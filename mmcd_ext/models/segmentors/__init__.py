from .deepcl_siam_encoder_decoder import DeepCLSiamEncoderDecoder
from .scd_siam_encoder_decoder import SCDSiamEncoderDecoder
from .scd_tta import SCDTTAModel
from .siam_encoder_decoder import SiamEncoderDecoder

__all__ = [
    'DeepCLSiamEncoderDecoder', 'SiamEncoderDecoder', 'SCDSiamEncoderDecoder',
    'SCDTTAModel'
]
