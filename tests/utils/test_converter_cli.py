"""mmcd_ext.utils.converter_cli: the frame of the checkpoint converters."""
import os.path as osp

import pytest
import torch

from mmcd_ext.utils.converter_cli import (add_config_options,
                                          add_output_options, converter_parser,
                                          run_converter, save_checkpoint)


def _parse(argv):
    parser = converter_parser('test tool')
    add_config_options(parser, 'a config', cfg_options=True)
    add_output_options(parser)
    return parser.parse_args(argv)


def test_parser_has_the_shared_options():
    args = _parse(['a.pth', 'b.pth', '--overwrite', '--cfg-options', 'x=1'])
    assert (args.src, args.dst) == ('a.pth', 'b.pth')
    assert args.overwrite and not args.debug and args.config is None
    assert args.cfg_options == {'x': 1}


def test_save_checkpoint_creates_the_folder_and_round_trips(tmp_path):
    dst = str(tmp_path / 'new' / 'dir' / 'out.pth')
    state = {'w': torch.arange(6.).reshape(2, 3)}
    save_checkpoint({'state_dict': state}, dst)
    loaded = torch.load(dst, weights_only=True)
    assert torch.equal(loaded['state_dict']['w'], state['w'])
    # nothing but the file is left in its folder (no temporary file)
    assert sorted(osp.basename(p)
                  for p in tmp_path.glob('new/dir/*')) == ['out.pth']


def test_run_converter_turns_an_error_into_one_line(capsys, monkeypatch):
    # a run log left open by an earlier test in this process would be named
    # instead of --debug: a converter runs in a process of its own
    monkeypatch.setattr('mmcd_ext.utils.cli._log_files', lambda: [])

    def fail(args):
        raise ValueError(f'{args.src}: broken')

    with pytest.raises(SystemExit) as exc:
        run_converter('tools/x.py', _parse, fail, ['a.pth', 'b.pth'])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        'tools/x.py: error: ValueError: a.pth: broken '
        '(rerun with --debug for the traceback)'
    ]
    with pytest.raises(ValueError, match='broken'):
        run_converter('tools/x.py', _parse, fail,
                      ['a.pth', 'b.pth', '--debug'])
    assert run_converter('tools/x.py', _parse, lambda a: None, ['a', 'b']) == 0
