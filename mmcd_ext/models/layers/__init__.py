"""Building blocks shared by mmcd_ext models (registered in ``MODELS``)."""
__all__ = []
