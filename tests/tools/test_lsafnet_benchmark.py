"""tools/analysis/lsafnet_synthetic_benchmark.py: variants and arguments."""
import argparse
import importlib.util
import os.path as osp

from mmengine.config import Config, DictAction

from mmcd_ext.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(ROOT, 'tools/analysis/lsafnet_synthetic_benchmark.py')
    spec = importlib.util.spec_from_file_location('lsafnet_bench', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(config, options):
    cfg = Config.fromfile(osp.join(ROOT, config))
    if options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *options]).o)
    return MODELS.build(cfg.model)


def test_variants_build_the_models_they_name():
    tool = load_tool()
    args = tool.parse_args([])
    assert args.variants == ['lsafnet', 'baseline']
    heads = {
        name: build(*tool.CONFIGS[name]).decode_head
        for name in tool.CONFIGS
    }
    lsafnet, baseline, base = heads['lsafnet'], heads['baseline'], \
        heads['base']
    assert type(lsafnet.sfm.fuse1).__name__ == 'LGAA'
    assert type(lsafnet.lgce).__name__ == 'LGCE'
    assert lsafnet.change_from == 'decoder'
    for head in (baseline, base):
        assert type(head.sfm.fuse1).__name__ == 'ConcatMLPFusion'
        assert type(head.cd_fusion).__name__ == 'ConcatMLPFusion'
        assert type(head.lgce).__name__ == 'Identity'
    assert baseline.change_from == 'encoder'
    assert base.change_from == 'decoder'
    assert set(tool.NAMES) == set(tool.CONFIGS)
