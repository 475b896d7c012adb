"""Our names resolve in scope mmcd_ext; mmseg/mmpretrain names stay usable."""
import pytest
from mmengine.registry import DefaultScope

from mmcd_ext import registry as R

OURS = {
    R.MODELS: [
        'SiamEncoderDecoder', 'BitemporalFusionNeck',
        'DualInputSegDataPreProcessor'
    ],
    R.DATASETS: [
        'LEVIRCDDataset', 'BinaryCDFolderDataset', 'SECONDDataset',
        'LandsatSCDDataset'
    ],
    R.TRANSFORMS: [
        'LoadBitemporalImages', 'LoadCDAnnotations', 'LoadSCDAnnotations',
        'RandomRotate90', 'BitemporalRandomRotate',
        'BitemporalPhotoMetricDistortion', 'TimeExchange', 'PackCDInputs'
    ],
    R.METRICS: ['ChangeDetectionMetric', 'SCDMetric'],
    R.VISUALIZERS: ['CDLocalVisualizer'],
    R.HOOKS: ['CDVisualizationHook'],
}


@pytest.mark.parametrize(
    'registry,names', list(OURS.items()), ids=[r.name for r in OURS])
def test_our_names_registered_in_our_scope(registry, names):
    assert registry.scope == 'mmcd_ext'
    assert registry.parent.scope == 'mmseg'
    for name in names:
        assert name in registry.module_dict, name
        assert registry.get(name).__module__.startswith('mmcd_ext.'), name


def test_parent_and_other_scopes_resolve():
    with DefaultScope.overwrite_default_scope('mmcd_ext'):
        assert R.MODELS.get('UPerHead').__module__.startswith('mmseg.')
        assert R.MODELS.get('mmseg.ResNet').__module__.startswith('mmseg.')
        vit_sam = R.MODELS.get('mmpretrain.ViTSAM')
        assert vit_sam is not None
        assert vit_sam.__module__.startswith('mmpretrain.')
        assert R.TRANSFORMS.get('RandomFlip') is not None


# Renamed models: old registry name -> current class name. Explicit on
# purpose: a rename must add a row here and in mmcd_ext/models/aliases.py.
RENAMED_MODELS = {'SiameseVGG': 'VGGEncoder', 'MultiLevelHead': 'TTPHead'}
TINY_CFGS = {
    'VGGEncoder':
    dict(arch=dict(channels=(8, 16, 16, 32, 32), depths=(2, 2, 3, 3, 3))),
    'TTPHead':
    dict(
        in_channels=16,
        channels=8,
        level_channels=8,
        num_classes=2,
        norm_cfg=None),
}


def test_alias_table_is_explicit():
    from mmcd_ext.models.aliases import RENAMED_MODELS as table
    assert {old: cls.__name__ for old, cls in table.items()} == \
        RENAMED_MODELS


@pytest.mark.parametrize('old,new', sorted(RENAMED_MODELS.items()))
def test_old_names_build_the_renamed_class(old, new):
    with DefaultScope.overwrite_default_scope('mmcd_ext'):
        cls = R.MODELS.get(new)
        assert cls is not None and cls.__name__ == new
        assert cls.__module__.startswith('mmcd_ext.models.')
        assert R.MODELS.get(old) is cls
        model = R.MODELS.build(dict(type=old, **TINY_CFGS[new]))
        assert type(model) is cls
        assert type(
            R.MODELS.build(dict(type=f'mmcd_ext.{old}',
                                **TINY_CFGS[new]))) is cls
