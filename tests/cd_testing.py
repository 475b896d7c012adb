"""Helpers for tests (``import cd_testing``: pytest.ini puts tests/ on the
path): shrink a method config so it trains on CPU in seconds.

Method configs are written for GPU clusters (SyncBN, paper batch sizes and
schedules, pretrained weights). :func:`shrink_config` turns a loaded config
into a tiny CPU copy without touching the file: BN instead of SyncBN, no
pretrained weights, small crops (``crop_size`` and the sizes derived from
it agree, as mmcd_ext's tools check), batch 2, a couple of iterations,
data read from a fixture directory.
"""
import copy
import hashlib
import os
import stat
import subprocess
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config

from mmcd_ext.utils.config_checks import VGG_DEEP_STRIDE
from mmcd_ext.utils.launch import syncbn_to_bn


def drop_pretrained(node: Any) -> Any:
    """Remove every ``init_cfg`` of type ``Pretrained`` (in place)."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node['init_cfg'] = None
        elif isinstance(init, list):
            node['init_cfg'] = [
                c for c in init
                if not (isinstance(c, dict) and c.get('type') == 'Pretrained')
            ] or None
        if 'pretrained' in node and isinstance(node['pretrained'], str):
            node['pretrained'] = None
        for value in node.values():
            drop_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            drop_pretrained(value)
    return node


def _shrink_pipeline(pipeline: list, crop: Tuple[int, int]) -> None:
    for step in pipeline:
        if 'crop_size' in step:
            step['crop_size'] = crop
        if step.get('type') in ('Resize', 'RandomResize') and 'scale' in step:
            step['scale'] = crop
        if 'transforms' in step:  # TestTimeAug
            for group in step['transforms']:
                _shrink_pipeline(group, crop)


def shrink_config(cfg: Config,
                  data_root: Optional[str] = None,
                  work_dir: Optional[str] = None,
                  crop: Tuple[int, int] = (32, 32),
                  max_iters: int = 2) -> Config:
    """Return a tiny CPU copy of ``cfg``.

    Args:
        cfg (Config): A loaded method config (not modified).
        data_root (str, optional): Fixture data set root for all splits.
            Defaults to None (data settings untouched apart from loaders).
        work_dir (str, optional): Work dir of the copy. Defaults to None.
        crop (tuple[int, int]): Crop / slide window size. Defaults to
            (32, 32).
        max_iters (int): Training iterations. Defaults to 2.

    Returns:
        Config: The shrunken copy.
    """
    cfg = copy.deepcopy(cfg)
    syncbn_to_bn(cfg)
    drop_pretrained(cfg.model)
    # the variable and every size derived from it agree (the tools check)
    if 'crop_size' in cfg:
        cfg.crop_size = tuple(crop)
    hopfield = (cfg.model.get('neck') or {}).get('hopfield')
    if isinstance(hopfield, dict) and 'feat_size' in hopfield:
        level = cfg.model.backbone.get('deep_level', 'pool5')
        stride = VGG_DEEP_STRIDE.get(level, 32)
        hopfield['feat_size'] = (max(1, crop[0] // stride),
                                 max(1, crop[1] // stride))
    test_cfg = cfg.model.get('test_cfg') or {}
    if test_cfg.get('mode') == 'slide':
        test_cfg['crop_size'] = crop
        test_cfg['stride'] = (crop[0] // 2, crop[1] // 2)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if loader is None:
            continue
        loader['batch_size'] = 2
        loader['num_workers'] = 0
        loader['persistent_workers'] = False
        dataset = loader['dataset']
        if data_root is not None:
            dataset['data_root'] = data_root
        _shrink_pipeline(dataset.get('pipeline', []), crop)
    if 'tta_pipeline' in cfg:
        _shrink_pipeline(cfg.tta_pipeline, crop)
    cfg.train_cfg = dict(
        type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
    cfg.param_scheduler = []
    hooks = cfg.default_hooks
    hooks['logger'] = dict(
        type='LoggerHook', interval=1, log_metric_by_epoch=False)
    if 'checkpoint' in hooks:
        hooks['checkpoint'].update(by_epoch=False, interval=max_iters)
    cfg.log_processor = dict(by_epoch=False)
    cfg.env_cfg = dict(
        cudnn_benchmark=False,
        mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
        dist_cfg=dict(backend='gloo'))
    if work_dir is not None:
        cfg.work_dir = work_dir
    return cfg


def run_tool(args: List[str], root: str,
             **kwargs) -> subprocess.CompletedProcess:
    """Run a command-line tool from the repository root; fail on error.

    The child gets ``PYTHONPATH=root`` and one torch thread; stdout and
    stderr are captured and their tails shown if the command fails.

    Args:
        args (list[str]): The command, e.g. ``[sys.executable,
            'tools/train.py', cfg]``.
        root (str): Repository root (working directory of the child).
        **kwargs: Passed to ``subprocess.run``; ``env`` entries are added to
            the child's environment.

    Returns:
        subprocess.CompletedProcess: The finished process.
    """
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS='1')
    env.update(kwargs.pop('env', {}))
    proc = subprocess.run(
        args,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs)
    assert proc.returncode == 0, (
        f'{" ".join(args)} failed:\n{proc.stdout[-3000:]}\n'
        f'{proc.stderr[-3000:]}')
    return proc


def binary_cd_batch(model: Any, size: int, n: int = 2) -> dict:
    """A preprocessed training batch of ``n`` random uint8 pairs.

    Pair ``i`` has a 24 x 24 changed square at rows ``8i .. 8i + 24`` and
    columns 16 .. 40; inputs come from a generator seeded with 0.

    Args:
        model (Any): A segmentor whose ``data_preprocessor`` is applied.
        size (int): Height and width of the pairs (at least 40).
        n (int): Number of pairs. Defaults to 2.

    Returns:
        dict: ``inputs`` (n, 6, size, size) and ``data_samples``.
    """
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for i in range(n):
        label = torch.zeros(1, size, size, dtype=torch.long)
        label[:, 8 * i:8 * i + 24, 16:40] = 1
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(
            dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        samples.append(sample)
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randint(
            0, 255, (6, size, size), generator=gen, dtype=torch.uint8)
        for _ in range(n)
    ]
    return model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=True)


def snapshot(*roots: str) -> Dict[str, Tuple]:
    """Kind and content hash of every entry below ``roots``, by path.

    Bad-input tests take one before and one after a run to show that no
    input or earlier output changed. FIFOs and other special files are
    recorded by their kind and never opened (reading one could block).

    Args:
        *roots (str): Folders to walk.

    Returns:
        dict[str, tuple]: ``path -> ('file', sha256)`` or ``(kind, )``.
    """
    entries: Dict[str, Tuple] = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                mode = os.lstat(path).st_mode
                if stat.S_ISREG(mode):
                    with open(path, 'rb') as f:
                        digest = hashlib.sha256(f.read()).digest()
                    entries[path] = ('file', digest)
                else:
                    entries[path] = (stat.S_IFMT(mode), )
    return entries
