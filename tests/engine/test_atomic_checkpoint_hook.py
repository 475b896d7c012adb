"""AtomicCheckpointHook: complete checkpoints or none, never a partial one."""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from mmcd_ext.engine import AtomicCheckpointHook
from mmcd_ext.registry import HOOKS
from mmcd_ext.utils.atomic import atomic_path

CONFIG_ROOT = osp.join(
    osp.dirname(osp.dirname(osp.dirname(__file__))), 'configs')


class ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)  # default_collate stacks the batch
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


class ToyData(Dataset):

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=torch.full((2, ), float(i)))


class FailingRunner(Runner):
    """Writes half a checkpoint at the given iteration, then 'disk full'."""

    fail_at = None

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        if self.iter + 1 == self.fail_at:
            with open(osp.join(out_dir, filename), 'wb') as f:
                f.write(b'PK\x03\x04 half a zip')
            raise OSError(28, 'No space left on device')
        return super().save_checkpoint(out_dir, filename, *args, **kwargs)


def make_runner(work_dir: str, runner_cls=Runner) -> Runner:
    return runner_cls(
        model=ToyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        default_hooks=dict(
            checkpoint=dict(
                type=AtomicCheckpointHook, by_epoch=False, interval=1)),
        default_scope='mmcd_ext')


def test_registered() -> None:
    assert HOOKS.get('AtomicCheckpointHook') is AtomicCheckpointHook


def test_saves_loadable_checkpoints_and_no_temporary_files(tmp_path) -> None:
    runner = make_runner(str(tmp_path))
    runner.train()
    names = sorted(os.listdir(tmp_path))
    assert [n for n in names if n.endswith('.pth')
            ] == ['iter_1.pth', 'iter_2.pth', 'iter_3.pth']
    assert not [n for n in names if n.endswith('.tmp')]
    ckpt = torch.load(tmp_path / 'iter_3.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 3
    torch.testing.assert_close(ckpt['state_dict']['linear.weight'],
                               runner.model.linear.weight.detach())
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == str(tmp_path / 'iter_3.pth')
    # the runner's own method is back after every save
    assert 'save_checkpoint' not in vars(runner)


def test_failed_save_leaves_no_partial_file(tmp_path) -> None:
    FailingRunner.fail_at = 2
    runner = make_runner(str(tmp_path), FailingRunner)
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    names = sorted(os.listdir(tmp_path))
    assert 'iter_2.pth' not in names  # no truncated file under a real name
    assert not glob.glob(str(tmp_path / '.*tmp'))
    assert torch.load(
        tmp_path / 'iter_1.pth', weights_only=True)['meta']['iter'] == 1
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read() == str(tmp_path / 'iter_1.pth')


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(
        tmp_path) -> None:
    dst = tmp_path / 'out.bin'
    dst.write_bytes(b'old')
    with pytest.raises(RuntimeError):
        with atomic_path(str(dst)) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'new but unfinished')
            raise RuntimeError('interrupted')
    assert dst.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['out.bin']
    with atomic_path(str(dst)) as tmp:
        with open(tmp, 'wb') as f:
            f.write(b'new')
    assert dst.read_bytes() == b'new'
    assert os.listdir(tmp_path) == ['out.bin']


def test_every_config_saves_atomically() -> None:
    leaves = [
        p for p in glob.glob(
            osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
        if '_base_' not in p
    ]
    assert leaves
    for path in leaves:
        cfg = Config.fromfile(path)
        hook = cfg.default_hooks.checkpoint
        assert hook.type == 'AtomicCheckpointHook', path
