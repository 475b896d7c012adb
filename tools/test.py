"""Evaluate a change detector: ``python tools/test.py CONFIG CHECKPOINT``.

Same interface as mmsegmentation's ``tools/test.py``: ``--out`` writes the
predicted change maps, ``--show-dir`` writes TP/TN/FP/FN overlays (binary) or
``A | B | semantic A | semantic B | change error map`` with a class legend
(semantic change), ``--tta`` uses the config's ``tta_pipeline`` and
``tta_model`` (``SCDTTAModel`` for semantic change models).
The test mode (whole / slide with crop and stride) is logged with the scores.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmcd_ext.datasets.transforms.loading import check_regular_file
from mmcd_ext.utils import register_all_modules
from mmcd_ext.utils.checkpoint import load_model_weights
from mmcd_ext.utils.cli import tool_errors
from mmcd_ext.utils.config_utils import load_tool_config
from mmcd_ext.utils.launch import setup_launch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='tools/test.py',
        description='Test (and evaluate) a change detector')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='dir for logs and the metrics json')
    parser.add_argument(
        '--out', help='dir to save the predicted maps as PNG files')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='dir to save painted results (overlays)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
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
        '--tta', action='store_true', help='test-time augmentation')
    parser.add_argument(
        '--partial-load',
        action='store_true',
        help='load a checkpoint that does not fit the model (only the '
        'matching keys, with a warning); by default any missing, unexpected '
        'or mis-shaped key is an error')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the full traceback of an error instead of one line '
        '(the traceback is always in the log file)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    for flag, path in (('--out', args.out), ('--work-dir', args.work_dir)):
        if path is not None and osp.exists(path) and not osp.isdir(path):
            parser.error(f'{flag} {path} is a file; give a folder')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    """Switch the visualization hook on for ``--show`` / ``--show-dir``."""
    if 'visualization' not in cfg.default_hooks:
        raise RuntimeError('--show/--show-dir need a visualization hook in '
                           "default_hooks, e.g. visualization=dict("
                           "type='CDVisualizationHook')")
    hook = cfg.default_hooks['visualization']
    hook['draw'] = True
    hook['interval'] = 1  # draw every test sample, not every 50th
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:  # one PNG per test pair, named after date A's file
        hook['test_out_dir'] = osp.abspath(args.show_dir)
    return cfg


def describe_test_mode(test_cfg: dict) -> str:
    """One line saying how the model is evaluated."""
    test_cfg = test_cfg or {}
    mode = test_cfg.get('mode', 'whole')
    if mode == 'slide':
        return (f"slide inference, crop {tuple(test_cfg.get('crop_size'))}, "
                f"stride {tuple(test_cfg.get('stride'))}")
    return f'{mode} inference'


def check_tta_model(cfg: Config) -> None:
    """Refuse a TTA model that cannot merge a semantic change model.

    mmseg's ``SegTTAModel`` arg-maxes over all channels of the stacked
    logits of a semantic change model (``semantic_change = True``); such
    models need ``tta_model = dict(type='SCDTTAModel')``.

    Raises:
        ValueError: Naming the config keys and the fix.
    """
    from mmcd_ext.registry import MODELS
    model_type, tta_type = cfg.model.get('type'), cfg.tta_model.get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type,
                                                     str) else model_type
    tta_cls = MODELS.get(tta_type) if isinstance(tta_type, str) else tta_type
    if getattr(model_cls, 'semantic_change', False) and getattr(
            tta_cls, '__name__', '') == 'SegTTAModel':
        raise ValueError(
            f'--tta: tta_model.type={tta_type} cannot merge the stacked '
            f'logits of the semantic change model {model_type}; set '
            "tta_model = dict(type='SCDTTAModel') in the config")


def test(args: argparse.Namespace) -> dict:
    """Test with the parsed arguments; returns the metrics."""
    register_all_modules(init_default_scope=False)
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir)
    check_regular_file(args.checkpoint, 'checkpoint')
    cfg.load_from = None  # loaded below, strictly, not by the Runner

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    test_mode = describe_test_mode(cfg.model.get('test_cfg'))
    if args.tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            raise ValueError(f'--tta: {args.config} defines no tta_pipeline '
                             'or tta_model')
        check_tta_model(cfg)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
        test_mode += ' with test-time augmentation'
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out

    setup_launch(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    checkpoint = load_model_weights(
        runner.model, args.checkpoint, strict=not args.partial_load)
    runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)
    print_log(f'Loaded checkpoint {args.checkpoint}', logger='current')
    print_log(f'Test mode: {test_mode}', logger='current')
    metrics = runner.test()
    print_log(
        f'Test mode: {test_mode}; checkpoint {args.checkpoint}',
        logger='current')
    return metrics


def main() -> None:
    args = parse_args()
    with tool_errors('tools/test.py', args.debug):
        test(args)


if __name__ == '__main__':
    main()
