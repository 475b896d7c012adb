"""Bad inputs to tools/train.py and tools/test.py, run as subprocesses.

Every case must end with exit code 1 (a runtime error) or 2 (argparse),
a last stderr line ``tools/<x>.py: error: ...`` naming the culprit, no
traceback on stderr, no change to any input (data tree, config,
checkpoint) or pre-existing output, and no checkpoint or metrics json
written. The synthetic data set and the tiny config are shared by the
module; the cases only add their own bad file.
"""
import argparse
import os
import os.path as osp
import pickle
import subprocess
import sys
from typing import List

import pytest
import torch
from cd_testing import shrink_config, snapshot
from mmengine.config import Config

from mmcd_ext.datasets.synthetic import generate_levir_like

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/baseline/baseline_r18_synthetic-256.py')
#: Seconds after which a tool counts as hung.
TIMEOUT = 300


def files_ending(root: str, suffix: str) -> List[str]:
    return sorted(
        osp.join(folder, name) for folder, _, files in os.walk(root)
        for name in files if name.endswith(suffix))


@pytest.fixture(scope='module')
def shared(tmp_path_factory):
    """The data tree and the tiny config (both read-only inputs)."""
    root = tmp_path_factory.mktemp('bad_tool_inputs')
    data = root / 'data'
    generate_levir_like(
        str(data),
        num_train=2,
        num_val=1,
        num_test=1,
        size=64,
        seed=16,
        overwrite=True)
    cfg = shrink_config(
        Config.fromfile(CONFIG),
        data_root=str(data),
        work_dir=str(root / 'unused_work_dir'),
        max_iters=2)
    cfg.dump(str(root / 'tiny.py'))
    return root


def foreign_model_checkpoint(path: str) -> None:
    """A Runner-style checkpoint (with optimizer) of a one-layer model."""
    torch.manual_seed(16)
    model = torch.nn.Conv2d(3, 2, 1)
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.save(
        dict(
            state_dict=model.state_dict(),
            optimizer=optim.state_dict(),
            meta=dict(iter=2)), path)


def truncated_checkpoint(path: str) -> None:
    foreign_model_checkpoint(path)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def text_checkpoint(path: str) -> None:
    with open(path, 'w') as f:
        f.write('https://example.org/weights.pth\n')


def pickled_object_checkpoint(path: str) -> None:
    with open(path, 'wb') as f:
        pickle.dump(argparse.Namespace(state_dict={}), f, protocol=2)


def empty_file(path: str) -> None:
    open(path, 'wb').close()


def fifo(path: str) -> None:
    os.mkfifo(path)


# (id, tool, make the bad input in `inp` -> extra arguments, exit code,
#  culprits the last stderr line must name)
def c_config_missing(shared, inp):
    return [f'{inp}/tiny_typo.py'], ['tiny_typo.py']


def c_unknown_dataset_key(shared, inp):
    return [
        f'{shared}/tiny.py', '--cfg-options',
        'train_dataloader.dataset.bogus_key=1'
    ], ['bogus_key']


def c_missing_data_root(shared, inp):
    return [f'{shared}/tiny.py', '--cfg-options',
            f'data_root={inp}/no_data'], [f'{inp}/no_data']


def c_resume_other_model(shared, inp):
    foreign_model_checkpoint(f'{inp}/other.pth')
    return [f'{shared}/tiny.py', '--resume',
            f'{inp}/other.pth'], ['other.pth', 'another model']


def c_train_unknown_option(shared, inp):
    return [f'{shared}/tiny.py', '--lr', '0.1'], ['--lr']


def c_config_syntax_error(shared, inp):
    with open(f'{inp}/broken.py', 'w') as f:
        f.write('model = dict(\n')
    return [f'{inp}/broken.py'], ['broken.py', 'not valid Python']


def c_test_out_is_file(shared, inp):
    with open(f'{inp}/maps', 'w') as f:
        f.write('a file of the user, not a folder\n')
    return [f'{shared}/tiny.py', f'{inp}/iter_9.pth', '--out',
            f'{inp}/maps'], ['--out', 'maps', 'is a file']


def c_train_work_dir_is_file(shared, inp):
    with open(f'{inp}/runs', 'w') as f:
        f.write('a file of the user, not a folder\n')
    return [f'{shared}/tiny.py', '--work-dir',
            f'{inp}/runs'], ['--work-dir', 'runs', 'is a file']


def _test_with(make, name, *also):

    def case(shared, inp):
        make(f'{inp}/{name}')
        return [f'{shared}/tiny.py', f'{inp}/{name}'], [name, *also]

    case.__name__ = f'c_{make.__name__}'
    return case


def c_checkpoint_missing(shared, inp):
    return [f'{shared}/tiny.py', f'{inp}/iter_9.pth'], ['iter_9.pth']


def c_test_checkpoint_argument_missing(shared, inp):
    return [f'{shared}/tiny.py'], ['checkpoint']


CASES = [
    ('train', c_config_missing, 1),
    ('train', c_unknown_dataset_key, 1),
    ('train', c_missing_data_root, 1),
    ('train', c_resume_other_model, 1),
    ('train', c_train_unknown_option, 2),
    ('train', c_config_syntax_error, 1),
    ('train', c_train_work_dir_is_file, 2),
    ('test', _test_with(empty_file, 'empty.pth', 'empty'), 1),
    ('test', _test_with(truncated_checkpoint, 'cut.pth', 'truncated'), 1),
    ('test', _test_with(text_checkpoint, 'notes.pth', 'not a torch'), 1),
    ('test',
     _test_with(pickled_object_checkpoint, 'obj.pth',
                'argparse.Namespace'), 1),
    ('test', _test_with(foreign_model_checkpoint, 'foreign.pth',
                        'does not fit'), 1),
    ('test', _test_with(fifo, 'fifo.pth', 'FIFO'), 1),
    ('test', c_checkpoint_missing, 1),
    ('test', c_test_checkpoint_argument_missing, 2),
    ('test', c_test_out_is_file, 2),
]


@pytest.mark.parametrize(
    'tool, make, code',
    CASES,
    ids=[f'{tool}-{make.__name__[2:]}' for tool, make, _ in CASES])
def test_tool_refuses(shared, tmp_path, tool, make, code):
    inp = tmp_path / 'in'
    inp.mkdir()
    args, culprits = make(str(shared), str(inp))
    work, out = tmp_path / 'work', tmp_path / 'out'
    # outputs of an earlier run, which a failed run must leave alone
    os.makedirs(work / '20260101_000000')
    (work / '20260101_000000' / '20260101_000000.json').write_text('{}')
    (work / 'iter_2.pth').write_bytes(b'earlier checkpoint')
    out.mkdir()
    (out / 'earlier.png').write_bytes(b'earlier prediction')
    if '--work-dir' not in args:
        args += ['--work-dir', str(work)]
    if tool == 'test' and '--out' not in args:
        args += ['--out', str(out)]
    before = snapshot(str(shared), str(inp), str(work), str(out))
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, f'tools/{tool}.py', *args],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == code, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'tools/{tool}.py: error: '), last
    for culprit in culprits:
        assert culprit in last, f'{culprit!r} not named in: {last}'
    # nothing written that looks like a result, nothing changed
    assert files_ending(str(work), '.pth') == [str(work / 'iter_2.pth')]
    assert files_ending(str(work), '.json') == [
        str(work / '20260101_000000' / '20260101_000000.json')
    ]
    assert os.listdir(out) == ['earlier.png']
    after = snapshot(str(shared), str(inp), str(work), str(out))
    assert {k: v for k, v in after.items() if k in before} == before


@pytest.mark.parametrize('tool', [
    'tools/misc/print_config.py', 'tools/analysis/get_flops.py',
    'tools/analysis/benchmark.py'
])
def test_config_tools_refuse_broken_config(tmp_path, tool):
    """The config-reading helper tools also end in one line, no traceback."""
    (tmp_path / 'broken.py').write_text('model = dict(\n')
    before = snapshot(str(tmp_path))
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, tool,
                           str(tmp_path / 'broken.py')],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f'{tool}: error: '), last
    assert 'broken.py' in last and 'not valid Python' in last, last
    assert snapshot(str(tmp_path)) == before
