"""End to end through the command-line tools, on tiny synthetic data.

tools/train.py -> tools/test.py (--out, --show-dir), resume from a checkpoint
gives the same state as not stopping, and a 2-process CPU (gloo) DDP run
through tools/dist_train.sh keeps both ranks identical.
"""
import glob
import json
import os
import os.path as osp
import sys
import textwrap

import pytest
import torch
from cd_testing import run_tool, shrink_config
from mmengine.config import Config

from mmcd_ext.datasets.synthetic import generate_levir_like

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/baseline/baseline_r18_synthetic-256.py')


def run(args, **kwargs):
    return run_tool(args, ROOT, **kwargs)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic_levir')
    generate_levir_like(
        str(root),
        num_train=4,
        num_val=2,
        num_test=2,
        size=64,
        seed=0,
        overwrite=True)
    return str(root)


def tiny_config(path, data_root, work_dir, max_iters=4, deterministic=False):
    cfg = shrink_config(
        Config.fromfile(CONFIG),
        data_root=data_root,
        work_dir=work_dir,
        max_iters=max_iters)
    cfg.default_hooks.checkpoint.update(interval=2, max_keep_ckpts=-1)
    if deterministic:
        # the same batches and no dropout, so two runs can be compared
        cfg.train_dataloader.dataset.pipeline = [
            dict(type='LoadBitemporalImages'),
            dict(type='LoadCDAnnotations'),
            dict(type='PackCDInputs'),
        ]
        cfg.model.decode_head.dropout_ratio = 0.0
    cfg.dump(path)
    return path


@pytest.mark.slow
def test_train_then_test(tmp_path, data_root):
    cfg = tiny_config(
        str(tmp_path / 'cfg.py'), data_root, str(tmp_path / 'work'))
    run([sys.executable, 'tools/train.py', cfg])
    ckpt = tmp_path / 'work' / 'iter_4.pth'
    assert ckpt.is_file()
    run([
        sys.executable, 'tools/test.py', cfg,
        str(ckpt), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(tmp_path / 'preds'), '--show-dir',
        str(tmp_path / 'show')
    ])
    metrics_files = glob.glob(str(tmp_path / 'test' / '*' / '*.json'))
    assert len(metrics_files) == 1
    with open(metrics_files[0]) as f:
        metrics = json.load(f)
    for key in ('Precision', 'Recall', 'F1', 'IoU', 'OA', 'Kappa'):
        assert 0.0 <= metrics[key] <= 100.0
    preds = sorted(os.listdir(tmp_path / 'preds'))
    assert len(preds) == 2  # two test pairs
    shown = glob.glob(str(tmp_path / 'show' / '**' / '*.png'), recursive=True)
    assert len(shown) == 2
    # test-time augmentation (flip) through the config's tta_pipeline
    proc = run([
        sys.executable, 'tools/test.py', cfg,
        str(ckpt), '--tta', '--work-dir',
        str(tmp_path / 'tta')
    ])
    assert 'with test-time augmentation' in proc.stdout + proc.stderr
    assert len(glob.glob(str(tmp_path / 'tta' / '*' / '*.json'))) == 1


@pytest.mark.slow
def test_resume_equals_uninterrupted(tmp_path, data_root):
    straight = tiny_config(
        str(tmp_path / 'a.py'),
        data_root,
        str(tmp_path / 'a'),
        deterministic=True)
    run([sys.executable, 'tools/train.py', straight])
    resumed = tiny_config(
        str(tmp_path / 'b.py'),
        data_root,
        str(tmp_path / 'b'),
        deterministic=True)
    run([
        sys.executable, 'tools/train.py', resumed, '--resume',
        str(tmp_path / 'a' / 'iter_2.pth')
    ])
    a = torch.load(tmp_path / 'a' / 'iter_4.pth', weights_only=True)
    b = torch.load(tmp_path / 'b' / 'iter_4.pth', weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key in a['state_dict']:
        torch.testing.assert_close(
            a['state_dict'][key],
            b['state_dict'][key],
            rtol=1e-5,
            atol=1e-6,
            msg=key)
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(
            sa[key]['exp_avg'], sb[key]['exp_avg'], rtol=1e-5, atol=1e-6)
    # the weights really moved between iteration 2 and 4
    mid = torch.load(tmp_path / 'a' / 'iter_2.pth', weights_only=True)
    moved = any(not torch.equal(mid['state_dict'][k], a['state_dict'][k])
                for k in a['state_dict'] if k.endswith('weight'))
    assert moved


DUMP_HOOK = textwrap.dedent('''
    import torch
    import torch.distributed as dist
    from mmengine.hooks import Hook
    from mmcd_ext.registry import HOOKS


    @HOOKS.register_module()
    class DumpRankParamsHook(Hook):
        """Test-only: save every rank's parameters after training.

        Only parameters: BN running statistics are per-rank buffers (DDP
        here does not broadcast buffers) and legitimately differ.
        """

        def __init__(self, out):
            self.out = out

        def after_train(self, runner):
            model = runner.model.module if hasattr(runner.model, 'module') \\
                else runner.model
            state = {k: v.detach().clone()
                     for k, v in model.named_parameters()}
            torch.save(dict(state=state, world=dist.get_world_size()),
                       f'{self.out}/rank{dist.get_rank()}.pth')
''')


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tmp_path, data_root):
    (tmp_path / 'dump_hook.py').write_text(DUMP_HOOK)
    cfg = shrink_config(
        Config.fromfile(CONFIG),
        data_root=data_root,
        work_dir=str(tmp_path / 'work'),
        max_iters=2)
    cfg.custom_imports = dict(
        imports=['mmcd_ext', 'dump_hook'], allow_failed_imports=False)
    cfg.custom_hooks = [dict(type='DumpRankParamsHook', out=str(tmp_path))]
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    run(['bash', 'tools/dist_train.sh', path, '2'],
        env=dict(
            PYTHONPATH=f'{ROOT}:{tmp_path}',
            PORT='29517',
            PYTHON=sys.executable))
    r0 = torch.load(tmp_path / 'rank0.pth', weights_only=True)
    r1 = torch.load(tmp_path / 'rank1.pth', weights_only=True)
    assert r0['world'] == r1['world'] == 2
    for key in r0['state']:
        torch.testing.assert_close(r0['state'][key], r1['state'][key], msg=key)
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    init = torch.load(tmp_path / 'work' / 'iter_2.pth', weights_only=True)
    # the checkpoint holds what rank 0 trained
    assert all(
        torch.equal(r0['state'][k], init['state_dict'][k])
        for k in r0['state'])
