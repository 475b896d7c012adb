"""tools/analysis/synthetic_benchmark.py: suites, scoring, tables, runs."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from cd_testing import shrink_config
from mmengine.config import Config

from mmcd_ext.apis import init_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASELINE = osp.join(ROOT, 'configs/baseline/baseline_r18_synthetic-256.py')
# mmseg's advice warnings are about the configs, not the tool
pytestmark = pytest.mark.filterwarnings('ignore::UserWarning:mmseg')


def load_tool():
    path = osp.join(ROOT, 'tools', 'analysis', 'synthetic_benchmark.py')
    spec = importlib.util.spec_from_file_location('synthetic_bench', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = load_tool()


def build(suite, name):
    variant = tool.SUITES[suite].variants[name]
    return init_model(
        osp.join(ROOT, variant.config),
        cfg_options=tool.parse_cfg_options(variant.options))


# ------------------------------------------------------------ arguments
def test_suite_defaults_and_bad_arguments():
    args = tool.parse_args(['--suite', 'frnet'])
    assert args.variants == ['frnet', 'base'] and args.seeds == [0]
    assert args.data_root == 'data/synthetic_levir'
    assert args.work_dir == 'work_dirs/frnet_bench'
    args = tool.parse_args(['--suite', 'lsafnet'])
    assert args.variants == ['lsafnet', 'baseline'] and args.seeds == [0]
    assert args.data_root == 'data/synthetic_second'
    args = tool.parse_args(['--suite', 'deepcl'])
    assert args.variants == ['host', 'deepcl', 'noprior', 'bcl']
    assert args.seeds == [0, 1, 2]
    # --seed is the single-seed spelling of --seeds
    args = tool.parse_args(['--suite', 'lsafnet', '--seed', '2'])
    assert args.seeds == [2]
    for bad in (['--suite', 'frnet', '--variants',
                 'host'], ['--suite',
                           'nope'], [], ['--suite', 'frnet', '--threads', '0'],
                ['--suite', 'frnet', '--cfg-options', 'novalue']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad)


def test_parse_cfg_options_as_the_tools_do():
    assert tool.parse_cfg_options(
        ['a.b=1', 'c=[1,2]', 'd=x', 'e=(1,2)', 'f=True']) == {
            'a.b': 1,
            'c': [1, 2],
            'd': 'x',
            'e': (1, 2),
            'f': True
        }
    assert tool.parse_cfg_options([]) == {}


# --------------------------------------------------- the suites' models
def test_every_variant_config_exists():
    for suite in tool.SUITES.values():
        assert set(suite.default_variants) <= set(suite.variants)
        for variant in suite.variants.values():
            assert osp.isfile(osp.join(ROOT, variant.config)), variant
        assert suite.evaluation in ('test_tool', 'pseudo_change')
        assert suite.reference is None or suite.reference in suite.variants


def test_lsafnet_variants_build_the_models_they_name():
    heads = {
        name: build('lsafnet', name).decode_head
        for name in ('lsafnet', 'baseline', 'base')
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


def names(model):
    return {n for n, _ in model.named_parameters()}


def test_frnet_and_deepcl_variants_build_the_models_they_name():
    assert any('hopfield' in n for n in names(build('frnet', 'frnet')))
    assert not any('hopfield' in n for n in names(build('frnet', 'base')))
    host = build('deepcl', 'host')
    assert type(host).__name__ == 'SiamEncoderDecoder'
    for name, prior, gamma in (('deepcl', True, 2.0), ('noprior', False, 2.0),
                               ('bcl', True, 0.0)):
        model = build('deepcl', name)
        assert type(model).__name__ == 'DeepCLSiamEncoderDecoder'
        assert model.with_prior == prior, name
        assert model.contrastive_loss.gamma == gamma, name


def test_parameter_count_follows_the_overrides():
    cfg = 'configs/deepcl/baseline_r18-w32_synthetic-256.py'
    full = tool.count_parameters(cfg, [])
    model = build('deepcl', 'host')
    assert full == sum(p.numel() for p in model.parameters())
    narrow = tool.count_parameters(cfg, ['model.decode_head.channels=16'])
    assert 0 < narrow < full


# ------------------------------------------------ scoring and summaries
def test_pseudo_false_positive_rates_hand_worked():
    # 3 x 4 scene: 2 changed pixels, 4 pseudo-change pixels, 6 others
    label = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], bool)
    pseudo = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]], bool)
    pred = np.array([[1, 0, 1, 0], [0, 0, 1, 1], [1, 0, 0, 0]], bool)
    counts = tool.pseudo_counts(pred, label, pseudo)
    assert counts.tolist() == [3, 4, 1, 6]
    # TP 1, FP 4, FN 1, TN 6
    scores = tool.scores_from_counts([1, 4, 1, 6], counts)
    assert scores['F1'] == pytest.approx(100 * 2 / (2 + 4 + 1))
    assert scores['Precision'] == pytest.approx(20.0)
    assert scores['Recall'] == pytest.approx(50.0)
    assert scores['FPR_pseudo'] == pytest.approx(75.0)
    assert scores['FPR_other'] == pytest.approx(100 / 6)


def test_overlapping_pseudo_mask_is_an_error():
    label = np.zeros((2, 2), bool)
    label[0, 0] = True
    with pytest.raises(ValueError, match='overlaps'):
        tool.pseudo_counts(label, label, label)
    with pytest.raises(ValueError, match='shapes differ'):
        tool.pseudo_counts(label, label, np.zeros((3, 3), bool))


def _rows(keys):
    rows = []
    for seed, (host, deepcl) in enumerate([(80.0, 82.0), (70.0, 71.0)]):
        common = dict(
            seed=seed, params=1.5e6, train_seconds=10.0, test_seconds=2.0)
        rows.append(
            dict(
                variant='host',
                model='host',
                **common,
                **{k: host
                   for k in keys}))
        rows.append(
            dict(
                variant='deepcl',
                model='deepcl',
                **common,
                **{k: deepcl
                   for k in keys}))
    return rows


def test_summary_means_and_paired_differences():
    suite = tool.SUITES['deepcl']
    summary = tool.summarize(
        _rows(suite.metrics), ['host', 'deepcl'], suite.metrics, 'host')
    assert summary['host']['F1'] == pytest.approx(75.0)
    assert summary['host']['F1_std'] == pytest.approx(np.std([80, 70], ddof=1))
    assert 'diff_to_host' not in summary['host']
    diff = summary['deepcl']['diff_to_host']['F1']
    assert diff['per_seed'] == pytest.approx([2.0, 1.0])
    assert diff['mean'] == pytest.approx(1.5)
    # without a reference: no differences
    plain = tool.summarize(_rows(suite.metrics), ['deepcl'], suite.metrics)
    assert set(plain) == {'deepcl'} and 'diff_to_None' not in plain['deepcl']


def test_tables():
    suite = tool.SUITES['deepcl']
    rows = _rows(suite.metrics)
    text = tool.format_tables(
        suite, rows,
        tool.summarize(rows, ['host', 'deepcl'], suite.metrics, 'host'))
    assert '| host | 0 | 80.00 |' in text
    assert '| 1.50 M | 10 | 2 |' in text
    # two seeds: the means table and the differences to the host
    assert '| host (half-width baseline) | 2 | 75.00 ± 7.07 |' in text
    assert ('+ DeepCL (loss + prior) - host, per seed: F1 +1.50 (+2.00, '
            '+1.00); FPR_pseudo +1.50 (+2.00, +1.00)') in text
    # one seed: no means table; three decimals for LSAFNet's parameters
    lsafnet = tool.SUITES['lsafnet']
    one = [dict(r, variant='lsafnet') for r in _rows(lsafnet.metrics)[:1]]
    text = tool.format_tables(
        lsafnet, one, tool.summarize(one, ['lsafnet'], lsafnet.metrics))
    assert 'seeds' not in text and '| 1.500 M |' in text


# ------------------------------------------- 2-iteration runs, end to end
@pytest.fixture(scope='module')
def tiny_data(tiny_levir_root):
    return tiny_levir_root


def _tiny_suite(tmp_path, evaluation):
    """The baseline, shrunk to 2 iterations, as variants a and b."""
    cfg = shrink_config(Config.fromfile(BASELINE), max_iters=2)
    path = str(tmp_path / 'tiny_baseline.py')
    cfg.dump(path)
    keys = tool.CHANGE_KEYS + (('OA', ) if evaluation == 'test_tool' else
                               ('FPR_pseudo', 'FPR_other'))
    return tool.Suite(
        variants={
            'a':
            tool.Variant(path, 'variant a'),
            'b':
            tool.Variant(path, 'variant b',
                         ('model.decode_head.channels=8', )),
        },
        default_variants=('a', 'b'),
        data_root='unused',
        data_args=(),
        seeds=(0, ),
        metrics=keys,
        evaluation=evaluation,
        reference='a',
        diff_keys=('F1', ))


@pytest.mark.slow
@pytest.mark.parametrize('evaluation', ['test_tool', 'pseudo_change'])
def test_suite_trains_scores_and_reuses(tmp_path, tiny_data, monkeypatch,
                                        capsys, evaluation):
    monkeypatch.setitem(tool.SUITES, 'tiny', _tiny_suite(tmp_path, evaluation))
    monkeypatch.setenv('PYTHONPATH', ROOT)
    work = str(tmp_path / 'work')
    argv = [
        '--suite', 'tiny', '--data-root', tiny_data, '--work-dir', work,
        '--threads', '1'
    ]
    out = tool.main(argv)
    saved = json.loads((tmp_path / 'work' / 'results.json').read_text())
    assert saved == json.loads(json.dumps(out))
    assert [(r['variant'], r['seed']) for r in saved['rows']] == [('a', 0),
                                                                  ('b', 0)]
    a, b = saved['rows']
    for row in (a, b):
        assert osp.isfile(row['checkpoint'])
        assert row['checkpoint'].endswith('iter_2.pth')
        for key in tool.SUITES['tiny'].metrics:
            assert 0.0 <= row[key] <= 100.0, key
        assert row['train_seconds'] > 0
    assert b['options'] == ['model.decode_head.channels=8']
    assert b['params'] < a['params']  # the variant's override was used
    if evaluation == 'pseudo_change':
        assert a['num_images'] == 2
        assert sum(a['confusion']) == 2 * 64 * 64
        assert a['pseudo_counts'][1] > 0  # the data have pseudo-changes
    else:
        assert osp.isdir(osp.join(work, 'a', 'seed0', 'test'))
    assert saved['summary']['b']['diff_to_a']['F1']['per_seed'] == \
        pytest.approx([b['F1'] - a['F1']])
    printed = capsys.readouterr().out
    assert '| variant a | 0 |' in printed and 'variant b - a' in printed

    # --reuse: nothing is trained again, the same rows come back
    again = tool.main(argv +
                      ['--reuse', '--out-json',
                       str(tmp_path / 'r.json')])
    assert again['rows'] == out['rows']
    printed = capsys.readouterr().out
    assert printed.count('reusing') == 2 and 'tools/train.py' not in printed
