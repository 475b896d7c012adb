"""End to end through the command-line tools, on tiny synthetic data.

tools/train.py -> tools/test.py (--out, --show-dir), resume from a checkpoint
gives the same state as not stopping, and a 2-process CPU (gloo) DDP run
through tools/dist_train.sh keeps both ranks identical.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import cv2
import numpy as np
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
def data_root(tiny_levir_root):
    return tiny_levir_root


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
    # --show-dir: one drawing per test pair, named after its date-A file
    shown = sorted(os.listdir(tmp_path / 'show'))
    assert shown == sorted(os.listdir(osp.join(data_root, 'test', 'A')))
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


@pytest.mark.parametrize('workers', [0, 1])
def test_data_error_is_one_line_with_traceback_in_log(tmp_path, workers):
    """A bad label stops training with one line naming the file (also when
    it is raised inside a DataLoader worker); the traceback goes to the log
    file, and on screen only with --debug."""
    root = tmp_path / 'data'
    generate_levir_like(
        str(root),
        num_train=2,
        num_val=1,
        num_test=1,
        size=64,
        seed=0,
        overwrite=True)
    for name in os.listdir(root / 'train' / 'label'):
        cv2.imwrite(
            str(root / 'train' / 'label' / name), np.full((64, 64), 7,
                                                          np.uint8))
    cfg = tiny_config(
        str(tmp_path / 'cfg.py'),
        str(root),
        str(tmp_path / 'work'),
        max_iters=1)
    loaded = Config.fromfile(cfg)
    loaded.train_dataloader.num_workers = workers
    loaded.train_dataloader.persistent_workers = False
    loaded.dump(cfg)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'tools/train.py', cfg],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('tools/train.py: error: ValueError: change label')
    assert 'train/label/' in last and '[7]' in last
    assert 'Traceback' not in proc.stderr
    log = last.split('traceback in ')[1].rstrip(')')
    with open(log) as f:
        assert 'Traceback (most recent call last)' in f.read()
    debug = subprocess.run([sys.executable, 'tools/train.py', cfg, '--debug'],
                           cwd=ROOT,
                           env=env,
                           capture_output=True,
                           text=True,
                           timeout=600)
    assert debug.returncode != 0 and 'Traceback' in debug.stderr


def test_test_refuses_a_checkpoint_of_another_model(tmp_path, data_root):
    """A checkpoint that does not fit the config is an error, not the score
    of a random model; --partial-load scores it anyway."""
    cfg = tiny_config(
        str(tmp_path / 'cfg.py'), data_root, str(tmp_path / 'work'))
    from mmcd_ext.registry import MODELS
    state = MODELS.build(Config.fromfile(cfg).model).state_dict()
    dropped = sorted(k for k in state if k.startswith('decode_head.'))[0]
    del state[dropped]
    ckpt = tmp_path / 'other.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    cmd = [
        sys.executable, 'tools/test.py', cfg,
        str(ckpt), '--work-dir',
        str(tmp_path / 'test')
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert 'other.pth does not fit the model' in last
    assert f'1 missing key ({dropped})' in last
    assert not glob.glob(str(tmp_path / 'test' / '*' / '*.json'))  # no score
    partial = subprocess.run(
        cmd + ['--partial-load'],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    assert partial.returncode == 0, partial.stderr[-2000:]
    assert 'loading only the matching part' in partial.stdout + partial.stderr


KILL_ON_SAVE = textwrap.dedent('''
    """Test-only: the process is killed half-way through writing the Nth
    checkpoint file (what a kill or a full disk does to a real save)."""
    import os
    import signal

    from mmengine.fileio.backends import LocalBackend

    _put = LocalBackend.put
    _calls = [0]


    def put(self, obj, filepath):
        _calls[0] += 1
        if _calls[0] == int(os.environ['KILL_AT_SAVE']):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return _put(self, obj, filepath)


    LocalBackend.put = put
''')


@pytest.mark.slow
def test_kill_during_save_leaves_no_truncated_checkpoint(tmp_path, data_root):
    (tmp_path / 'kill_on_save.py').write_text(KILL_ON_SAVE)
    path = tiny_config(
        str(tmp_path / 'cfg.py'), data_root, str(tmp_path / 'work'))
    cfg = Config.fromfile(path)
    cfg.custom_imports = dict(
        imports=['mmcd_ext', 'kill_on_save'], allow_failed_imports=False)
    cfg.dump(path)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([ROOT, str(tmp_path)]),
        OMP_NUM_THREADS='1',
        KILL_AT_SAVE='2')  # iter_2.pth is written, iter_4.pth is not
    proc = subprocess.run([sys.executable, 'tools/train.py', path],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == -9, proc.stderr[-2000:]  # SIGKILL
    work = tmp_path / 'work'
    assert not (work / 'iter_4.pth').exists()  # no truncated file
    assert torch.load(
        work / 'iter_2.pth', weights_only=True)['meta']['iter'] == 2
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_2.pth')
    # auto-resume picks the last complete checkpoint and finishes the run
    env['KILL_AT_SAVE'] = '0'
    resumed = subprocess.run(
        [sys.executable, 'tools/train.py', path, '--resume'],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 0, iter: 2' in log
    assert torch.load(
        work / 'iter_4.pth', weights_only=True)['meta']['iter'] == 4
