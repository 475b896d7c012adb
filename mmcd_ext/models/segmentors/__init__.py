from .scd_siam_encoder_decoder import SCDSiamEncoderDecoder
from .siam_encoder_decoder import SiamEncoderDecoder

__all__ = ['SiamEncoderDecoder', 'SCDSiamEncoderDecoder']
