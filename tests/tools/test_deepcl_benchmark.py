"""The scoring of tools/analysis/deepcl_synthetic_benchmark.py."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(ROOT, 'tools', 'analysis', 'deepcl_synthetic_benchmark.py')
    spec = importlib.util.spec_from_file_location('deepcl_bench', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pseudo_false_positive_rates_hand_worked():
    tool = load_tool()
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
    tool = load_tool()
    label = np.zeros((2, 2), bool)
    label[0, 0] = True
    with pytest.raises(ValueError, match='overlaps'):
        tool.pseudo_counts(label, label, label)
    with pytest.raises(ValueError, match='shapes differ'):
        tool.pseudo_counts(label, label, np.zeros((3, 3), bool))


def test_summary_means_and_paired_differences():
    tool = load_tool()
    keys = tool.KEYS
    rows = []
    for seed, (host, deepcl) in enumerate([(80.0, 82.0), (70.0, 71.0)]):
        rows.append(dict(variant='host', seed=seed, **{k: host for k in keys}))
        rows.append(
            dict(variant='deepcl', seed=seed, **{k: deepcl
                                                 for k in keys}))
    summary = tool.summarize(rows, ['host', 'deepcl'])
    assert summary['host']['F1'] == pytest.approx(75.0)
    assert summary['host']['F1_std'] == pytest.approx(np.std([80, 70], ddof=1))
    diff = summary['deepcl']['diff_to_host']['F1']
    assert diff['per_seed'] == pytest.approx([2.0, 1.0])
    assert diff['mean'] == pytest.approx(1.5)
