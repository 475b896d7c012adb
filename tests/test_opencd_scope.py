"""Mixing our modules with open-cd's: which scope resolves what.

open-cd's registries are direct children of mmengine's root registries
(scope ``opencd``); ours are children of mmseg's, i.e. grandchildren of the
root. mmengine resolves ``scope.Name`` through the current registry's
children and then the root's children only, and builds nested modules in the
default scope's registry. open-cd is not installed here, so a stub registry
with open-cd's place in the tree (a child of the root ``MODELS``, scope
``opencd``) stands in for it. docs/configs.md states the rules tested here.
"""
import importlib.util

import pytest
import torch.nn as nn
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope, Registry

from mmcd_ext.models.losses.hard_sample_contrastive_loss import \
    HardSampleContrastiveLoss
from mmcd_ext.registry import MODELS

OURS = 'HardSampleContrastiveLoss'


@pytest.fixture
def opencd():
    """A registry standing where open-cd's MODELS stands, with two modules.

    ``StubHead`` builds its ``inner`` dict with the stub registry, as an
    open-cd module builds its sub-modules with open-cd's ``MODELS``.
    """
    if importlib.util.find_spec('opencd') is not None:
        pytest.skip('open-cd is installed; the stub would shadow it')
    stub = Registry('model', parent=ROOT_MODELS, scope='opencd')

    @stub.register_module()
    class StubLeaf(nn.Module):
        pass

    @stub.register_module()
    class StubHead(nn.Module):

        def __init__(self, inner=None):
            super().__init__()
            self.inner = stub.build(inner) if inner else None

    try:
        yield stub
    finally:
        ROOT_MODELS._children.pop('opencd', None)


def test_tree_places(opencd):
    # ours: root -> mmseg -> mmcd_ext; the stub (like open-cd): root -> opencd
    assert MODELS.parent.scope == 'mmseg'
    assert MODELS.parent.parent is ROOT_MODELS
    assert opencd.parent is ROOT_MODELS
    assert 'opencd' in ROOT_MODELS._children
    assert 'mmcd_ext' not in ROOT_MODELS._children


def test_opencd_names_resolve_from_our_scope(opencd):
    with DefaultScope.overwrite_default_scope('mmcd_ext'):
        assert MODELS.get('opencd.StubLeaf') is opencd.get('StubLeaf')
        head = MODELS.build(dict(type='opencd.StubHead'))
        assert type(head).__name__ == 'StubHead'
        # without the prefix our tree (mmcd_ext -> mmseg -> root) is searched
        with pytest.raises(KeyError, match='StubLeaf is not in the mmcd_ext'):
            MODELS.build(dict(type='StubLeaf'))
        # nested dicts are built in the default scope's registry: an
        # open-cd module's un-prefixed sub-module is looked up in ours ...
        with pytest.raises(KeyError, match='StubLeaf is not in the mmcd_ext'):
            MODELS.build(
                dict(type='opencd.StubHead', inner=dict(type='StubLeaf')))
        # ... unless the open-cd dict carries _scope_='opencd'
        head = MODELS.build(
            dict(
                _scope_='opencd', type='StubHead',
                inner=dict(type='StubLeaf')))
        assert type(head.inner).__name__ == 'StubLeaf'
        # or the nested name carries the prefix too
        head = MODELS.build(
            dict(type='opencd.StubHead', inner=dict(type='opencd.StubLeaf')))
        assert type(head.inner).__name__ == 'StubLeaf'


def test_our_names_do_not_resolve_from_opencd_scope(opencd):
    with DefaultScope.overwrite_default_scope('opencd'):
        # the prefix is searched among the root's children only
        assert opencd.get(f'mmcd_ext.{OURS}') is None
        with pytest.raises(
                KeyError,
                match=f'mmcd_ext.{OURS} is not in the '
                'opencd::model registry'):
            opencd.build(dict(type=f'mmcd_ext.{OURS}'))
        # _scope_ switches the default scope, found anywhere in the tree
        loss = opencd.build(dict(_scope_='mmcd_ext', type=OURS))
        assert isinstance(loss, HardSampleContrastiveLoss)
