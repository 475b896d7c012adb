"""Registration of every mmcd_ext module."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import mmseg's modules, then ours, so every registry is filled.

    Args:
        init_default_scope (bool): Whether to make ``mmcd_ext`` the default
            scope, so bare names (``type='SiamEncoderDecoder'``) resolve in
            our registries first and then in mmseg's. Defaults to True.
    """
    import mmseg.datasets  # noqa: F401
    import mmseg.engine  # noqa: F401
    import mmseg.evaluation  # noqa: F401
    import mmseg.models  # noqa: F401
    import mmseg.structures  # noqa: F401

    import mmcd_ext.datasets  # noqa: F401
    import mmcd_ext.engine  # noqa: F401
    import mmcd_ext.evaluation  # noqa: F401
    import mmcd_ext.models  # noqa: F401
    import mmcd_ext.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmcd_ext'):
        DefaultScope.get_instance('mmcd_ext', scope_name='mmcd_ext')
        return
    if current.scope_name != 'mmcd_ext':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmcd_ext"; register_all_modules() switches it to '
                      '"mmcd_ext". Pass init_default_scope=False to keep it.')
        DefaultScope.get_instance(
            f'mmcd_ext-{datetime.datetime.now()}', scope_name='mmcd_ext')
