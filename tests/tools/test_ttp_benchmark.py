"""tools/analysis/ttp_benchmark.py on a tiny encoder."""
import importlib.util
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'analysis', 'ttp_benchmark.py')


def load_script():
    spec = importlib.util.spec_from_file_location('ttp_benchmark', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_script()
TINY_ARGS = [
    '--arch', 'tiny', '--shape', '64', '--window', '3', '--batch-size', '2',
    '--iters', '1', '--warmup', '0', '--threads', '1'
]


def test_encoder_gflop_hand_counted():
    # tiny: 4x4 tokens, window 3 pads the windowed blocks to 6x6 (4 windows)
    patch = 16 * 32 * 768
    glob = 16 * 4 * 32 * 32 + 2 * 16 * 16 * 32 + 16 * 2 * 32 * 64
    windowed = 36 * 4 * 32 * 32 + 4 * 2 * 81 * 32 + 16 * 2 * 32 * 64
    neck = 16 * 32 * 256 + 16 * 256 * 256 * 9
    macs = patch + 2 * glob + 2 * windowed + neck
    got = bench.encoder_gflop(bench.TINY_ARCH, 64, 3)
    assert got == pytest.approx(2 * macs / 1e9, rel=1e-12)
    unpadded = macs - 2 * (36 - 16) * 4 * 32 * 32
    assert bench.encoder_gflop(
        bench.TINY_ARCH, 64, 3, padded=False) == pytest.approx(
            2 * unpadded / 1e9, rel=1e-12)
    # the figure for SAM-B at 512: about 225 GFLOP per image
    assert bench.encoder_gflop(bench.SAM_ARCHS['base'], 512,
                               14) == pytest.approx(
                                   225, rel=0.01)


def test_format_table_ratios():

    def cell(t, m):
        return dict(time_median=t, time_min=t, time_max=t, peak_mib=m)

    table = {
        'default': {
            'train': cell(2.0, 100.0),
            'infer': cell(1.0, 50.0)
        },
        'cp-all': {
            'train': cell(3.0, 40.0)
        },
        'sam-reference': {
            'train': cell(4.0, 200.0),
            'infer': cell(2.0, 25.0)
        },
    }
    text = bench.format_table(table, ['train', 'infer'],
                              dict(train=1.0, infer=0.5))
    lines = text.splitlines()
    assert lines[0].startswith('| variant | mode |')
    assert 'x sam-reference' in lines[0] and 'x baseline' not in lines[0]
    cp = [line for line in lines if line.startswith('| cp-all | train')][0]
    # time x default, x reference, x floor, MiB, mem x default, x reference
    assert [c.strip() for c in cp.split('|')[4:10]
            ] == ['1.50', '0.75', '3.00', '40', '0.40', '0.20']
    assert not any(line.startswith('| cp-all | infer') for line in lines)
    infer = [line for line in lines if line.startswith('| default | infer')]
    assert [c.strip() for c in infer[0].split('|')[4:10]
            ] == ['1.00', '0.50', '2.00', '50', '1.00', '2.00']


def test_bad_arguments(tmp_path):
    for argv, match in ((['--shape',
                          '50'], 'multiple of 16'), (['--rounds',
                                                      '0'], 'rounds'),
                        (['--variants', 'baseline'],
                         'baseline-repo'), (['--baseline-repo',
                                             str(tmp_path)], 'no configs')):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)


def test_worker_tiny_train_and_reference(tmp_path):
    for variant in ('cp-windowed', 'sam-reference'):
        out = tmp_path / f'{variant}.json'
        args = bench.parse_args(
            TINY_ARGS +
            ['--worker', variant, '--mode', 'train', '--out-json',
             str(out)])
        result = bench.worker(args)
        assert result['time_mean'] > 0 and result['peak_memory_bytes'] > 0
        assert result['cpu_s_per_step'] > 0
        # LoRA of 4 blocks (3 adapters, rank 16) + 2 gates train
        lora = 4 * (3 * 16 * 32 + 3 * 32 * 16)
        assert result['backbone_trainable_params'] > lora
        expected = 'Reference' if variant == 'sam-reference' \
            else 'SAMLoRAViT'
        assert result['backbone_type'] == expected


@pytest.mark.slow
def test_interleaved_rounds_end_to_end(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    assert bench.main(TINY_ARGS + [
        '--rounds', '1', '--variants', 'default', 'sam-reference', '--modes',
        'infer', '--out-json',
        str(out)
    ]) == 0
    result = json.loads(out.read_text())
    assert result['rounds_done'] == 1
    assert set(result['results']) == {'default', 'sam-reference'}
    assert result['results']['default']['infer']['peak_mib'] > 0
    text = capsys.readouterr().out
    assert '| sam-reference | infer |' in text and 'FLOP floor' in text


def test_in_process_reports_tiny():
    args = bench.parse_args(TINY_ARGS + ['--rounds', '1', '--layers', '3'])
    text = bench.cpu_time_report(args)
    rows = [line for line in text.splitlines() if line.startswith('| ')]
    paths = {line.split('|')[1].strip() for line in rows[1:]}
    assert paths == {'legacy', 'eager', 'fused_mask', 'fused'}
    assert len(rows) == 1 + 4 * 2  # header + 4 paths x (train, infer)
    text = bench.activation_report(args)
    saved = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split('|')[1:-1]]
        if len(cells) == 3 and cells[0] in ('eager', 'fused_mask', 'fused'):
            saved[(cells[0], cells[1])] = float(cells[2])
    assert len(saved) == 3 + 4
    assert saved[('fused', 'all')] < saved[('fused', 'none')]
    assert 'Self CPU' in text
