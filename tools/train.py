"""Train a change detector: ``python tools/train.py CONFIG [options]``.

Same interface as mmsegmentation's ``tools/train.py``; distributed training
also works on CPU (gloo), see ``mmcd_ext/utils/launch.py``.
"""
import argparse
import logging
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmcd_ext.utils import register_all_modules
from mmcd_ext.utils.checkpoint import check_resume_checkpoint
from mmcd_ext.utils.cli import tool_errors
from mmcd_ext.utils.config_utils import load_tool_config
from mmcd_ext.utils.launch import setup_launch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='tools/train.py', description='Train a change detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        default=None,
        help='resume from the given checkpoint, or, without a value, from '
        'the latest checkpoint in the work dir')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs; '
        'data_root=PATH sets the data root of every dataloader')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the full traceback of an error instead of one line '
        '(the traceback is always in the log file)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    work_dir = args.work_dir
    if work_dir is not None and osp.exists(
            work_dir) and not osp.isdir(work_dir):
        parser.error(f'--work-dir {work_dir} is a file; give a folder')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def train(args: argparse.Namespace) -> None:
    """Train with the parsed arguments."""
    register_all_modules(init_default_scope=False)
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING)
        else:
            if optim_wrapper != 'OptimWrapper':
                raise ValueError('--amp is only supported with OptimWrapper, '
                                 f'got {optim_wrapper}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    setup_launch(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    if args.resume not in (None, 'auto'):
        # refuse a checkpoint of another model before mmengine fails deep
        # inside the optimizer without naming the file
        check_resume_checkpoint(runner.model, args.resume)
    runner.train()


def main() -> None:
    args = parse_args()
    with tool_errors('tools/train.py', args.debug):
        train(args)


if __name__ == '__main__':
    main()
