"""Tests of tools/demo/run_demo.py (``make demo``) without training.

The steps (data, train, test) are replaced by a fake ``run`` that writes what
tools/train.py and tools/test.py would (``last_checkpoint``, a metrics json),
so the argument handling, the table and the target line are checked on the
real ``main``.
"""
import importlib.util
import json
import os
import os.path as osp
from types import ModuleType

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        'run_demo_tool', osp.join(REPO_ROOT, 'tools', 'demo', 'run_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_demo = _load()
METRICS = dict(
    F1=88.89, Precision=83.75, Recall=94.71, IoU=80.0, OA=98.28, Kappa=87.96)


def test_defaults_train_the_frnet_config_for_088():
    args = run_demo.parse_args([])
    assert args.config == 'configs/frnet/frnet_vgg16_synthetic-256.py'
    assert osp.isfile(osp.join(REPO_ROOT, args.config))
    assert args.target == 0.88
    assert args.data_root == 'data/synthetic_levir'
    assert not args.skip_train


@pytest.mark.parametrize(
    'argv', [['--target', '88'], ['--target', '0'], ['--target', '-0.5'],
             ['--config', 'configs/nope.py'], ['--seed', 'x'], ['--bogus']])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        run_demo.parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert 'error:' in err
    if argv[0] == '--target' and argv[1] == '88':
        assert 'fraction' in err


@pytest.mark.parametrize(
    'f1, target, reached',
    [
        (88.89, 0.88, True),
        (88.0, 0.88, True),  # exactly the target passes
        (87.99, 0.88, False),
        (82.57, 0.88, False),
        (82.57, 0.80, True),
        (100.0, 1.0, True),
    ])
def test_target_verdict(f1, target, reached):
    ok, line = run_demo.target_verdict(f1, target)
    assert ok is reached
    head = 'TARGET REACHED' if reached else 'TARGET NOT reached'
    assert line.startswith(f'{head} (F1 >= {target:g})')
    assert f'change-F1 {f1 / 100:.4f}' in line


def test_target_line_text_for_the_demo_target():
    assert run_demo.target_verdict(88.89, 0.88)[1] == (
        'TARGET REACHED (F1 >= 0.88): change-F1 0.8889 on the test split')


def test_metrics_table_and_missing_key():
    table = run_demo.metrics_table(METRICS).splitlines()
    assert table[0] == '| F1 | Precision | Recall | IoU | OA | Kappa |'
    assert table[2] == '| 88.89 | 83.75 | 94.71 | 80.00 | 98.28 | 87.96 |'
    with pytest.raises(KeyError, match='Kappa'):
        run_demo.metrics_table({
            k: v
            for k, v in METRICS.items() if k != 'Kappa'
        })


def test_budget_line_and_minutes():
    assert run_demo.format_minutes(365) == '6 min 05 s'
    assert 'within the 8-minute budget' in run_demo.budget_line(479.6)
    assert 'OVER the 8-minute budget' in run_demo.budget_line(481)
    assert 'skipped' in run_demo.budget_line(None)


def _fake_steps(monkeypatch, tmp_path, f1: float) -> list:
    """Replace ``run`` by a fake that writes the outputs of each step."""
    calls = []

    def fake_run(cmd):
        calls.append(cmd)
        if 'tools/train.py' in cmd:
            work_dir = cmd[cmd.index('--work-dir') + 1]
            os.makedirs(work_dir, exist_ok=True)
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(osp.join(work_dir, 'iter_600.pth'))
            return 400.0
        if 'tools/test.py' in cmd:
            test_dir = cmd[cmd.index('--work-dir') + 1]
            os.makedirs(osp.join(test_dir, '20261202_000000'))
            with open(
                    osp.join(test_dir, '20261202_000000', '20261202.json'),
                    'w') as f:
                json.dump(dict(METRICS, F1=f1), f)
        return 1.0

    monkeypatch.setattr(run_demo, 'run', fake_run)
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'meta.json').write_text(json.dumps(dict(seed=0)))
    return calls


@pytest.mark.parametrize('f1, code', [(88.89, None), (87.5, 1)])
def test_main_prints_the_verdict_and_exits(monkeypatch, tmp_path, capsys, f1,
                                           code):
    calls = _fake_steps(monkeypatch, tmp_path, f1)
    argv = [
        '--data-root',
        str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'demo')
    ]
    if code is None:
        run_demo.main(argv)
    else:
        with pytest.raises(SystemExit) as exc:
            run_demo.main(argv)
        assert exc.value.code == code
    out = capsys.readouterr().out
    # the data were there (same seed): only train and test ran, on the
    # FrNet config, with the data root
    assert [c[1] for c in calls] == ['tools/train.py', 'tools/test.py']
    for cmd in calls:
        assert cmd[2] == 'configs/frnet/frnet_vgg16_synthetic-256.py'
        assert f'data_root={tmp_path / "data"}' in cmd
    assert calls[1][3] == str(tmp_path / 'demo' / 'iter_600.pth')
    assert f'| {f1:.2f} | 83.75 |' in out
    assert 'training took 6 min 40 s (within the 8-minute budget' in out
    if code is None:
        assert 'TARGET REACHED (F1 >= 0.88): change-F1 0.8889' in out
    else:
        assert 'TARGET NOT reached (F1 >= 0.88): change-F1 0.8750' in out


def test_main_skip_train_without_checkpoint_fails(monkeypatch, tmp_path):
    calls = _fake_steps(monkeypatch, tmp_path, 90.0)
    with pytest.raises(SystemExit, match='no checkpoint'):
        run_demo.main([
            '--skip-train', '--data-root',
            str(tmp_path / 'data'), '--work-dir',
            str(tmp_path / 'empty')
        ])
    assert calls == []


def test_main_makes_data_with_another_seed(monkeypatch, tmp_path, capsys):
    calls = _fake_steps(monkeypatch, tmp_path, 90.0)
    run_demo.main([
        '--seed', '3', '--data-root',
        str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'demo')
    ])
    make = calls[0]
    assert make[1] == 'tools/misc/make_synthetic_data.py'
    assert make[make.index('--seed') + 1] == '3'
    assert 'randomness.seed=3' in calls[1]
