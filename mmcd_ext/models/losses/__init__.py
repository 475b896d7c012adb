"""Losses of mmcd_ext (registered in ``mmcd_ext.registry.MODELS``)."""
__all__ = []
