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
