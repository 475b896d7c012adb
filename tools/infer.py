"""Detect change with a trained model: image pairs, folders, GeoTIFF scenes.

Usage::

    # one pair -> out/0001.png (0/255)
    python tools/infer.py CONFIG CKPT --a A/0001.png --b B/0001.png --out out
    # two folders, pairs matched by file name; replace earlier outputs
    python tools/infer.py CONFIG CKPT --a-dir A --b-dir B --out out \\
        --overwrite
    # a large georeferenced scene, tiled, written as a GeoTIFF
    python tools/infer.py CONFIG CKPT --a a.tif --b b.tif --out out \\
        --tile 512 --overlap 64 --batch-size 4 --probs \\
        --vector --quicklook
    # many scenes on 4 processes (torchrun); run it again to resume
    bash tools/dist_infer.sh CONFIG CKPT 4 --a-dir A --b-dir B --out out \\
        --resume

``.tif``/``.tiff`` inputs (or ``--geo``) go through the large-scene path
(needs rasterio: ``pip install -e ".[geo]"``). See docs/inference.md.

Nothing is overwritten by accident: every output path of the run is
computed and checked before the model is loaded (an output is never an
input, a file of an input folder, or another output of the run; existing
files are replaced only with ``--overwrite``), and every file is written
under a temporary name and renamed when complete.

Exit codes (every error is one line on stderr; ``--debug`` adds the
traceback):

* 0 success;
* 1 an error while running (unreadable image or checkpoint, bad config,
  mismatched grids, ...);
* 2 bad arguments, found before the model is loaded: usage, missing or
  non-regular input files, numbers out of range, an output path that would
  destroy an input or an existing file;
* 3 folder mode found images without a partner in the other folder --
  every matched pair was processed, the unmatched files are listed;
* 4 a scene has no pixel valid in both dates (all no-data, or date B does
  not overlap date A with ``--resample-b``): nothing is written for it (in
  folder mode the other pairs are processed); 4 wins over 3.
"""
import argparse
import json
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from mmengine.config import Config, DictAction

if TYPE_CHECKING:
    from mmcd_ext.apis import ChangeDetector
    from mmcd_ext.apis.output_plan import OutputPlan

TOOL = 'tools/infer.py'
#: Exit code of a runtime error.
EXIT_ERROR = 1
#: Exit code of bad arguments (found before the model is loaded).
EXIT_ARGS = 2
#: Exit code of folder mode when some images had no partner.
EXIT_UNMATCHED = 3
#: Exit code when a scene has no pixel valid in both dates.
EXIT_NO_DATA = 4


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        description='Change detection on image pairs, folders of pairs or '
        'large GeoTIFF scenes')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint file (.pth)')
    src = parser.add_argument_group('inputs (a pair or two folders)')
    src.add_argument('--a', help='date-A image')
    src.add_argument('--b', help='date-B image')
    src.add_argument('--a-dir', help='folder of date-A images')
    src.add_argument('--b-dir', help='folder of date-B images (same names)')
    out = parser.add_argument_group('outputs')
    out.add_argument(
        '--out',
        required=True,
        help='output folder (for a single GeoTIFF pair also a .tif file)')
    out.add_argument(
        '--probs',
        action='store_true',
        help='also write the probability of change (PNG 0-255; GeoTIFF: an '
        'extra band in percent)')
    out.add_argument(
        '--overlay',
        action='store_true',
        help='image pairs: also write date B with changes tinted red')
    geo = parser.add_argument_group('large scenes (GeoTIFF)')
    geo.add_argument(
        '--geo',
        action='store_true',
        help='use the tiled GeoTIFF path whatever the file extension')
    geo.add_argument(
        '--tile', type=int, default=512, help='tile side (px); default 512')
    geo.add_argument(
        '--overlap',
        type=int,
        default=64,
        help='minimum overlap of neighbouring tiles (px), blended; '
        'default 64')
    geo.add_argument(
        '--batch-size',
        type=int,
        default=4,
        help='tiles per model call; default 4')
    geo.add_argument(
        '--bands',
        type=int,
        nargs='+',
        help='1-based bands read from both dates (default: first three)')
    geo.add_argument(
        '--band-order',
        choices=['rgb', 'bgr'],
        help='order of three --bands: rgb (reversed to the BGR order the '
        "config's loader gives, the default for 3 bands) or bgr (as listed)")
    geo.add_argument(
        '--vector',
        nargs='?',
        const='',
        default=None,
        metavar='GEOJSON',
        help='also write change polygons with their area as GeoJSON '
        '(default name: <out>/<name>_change.geojson)')
    geo.add_argument(
        '--quicklook',
        action='store_true',
        help='also write a PNG quick-look of the change GeoTIFF')
    geo.add_argument(
        '--resample-b',
        action='store_true',
        help="warp date B onto date A's grid instead of requiring the same "
        'CRS, transform and size')
    geo.add_argument(
        '--gdal-cache-mb',
        type=int,
        default=64,
        help="GDAL block cache (MiB); default 64 (GDAL's own default, 5%% "
        'of the RAM, would grow with the scene)')
    out.add_argument(
        '--overwrite',
        action='store_true',
        help='replace output files that exist already (never an input); '
        'without it such a run stops before writing anything')
    out.add_argument(
        '--resume',
        action='store_true',
        help='record each finished scene in <out>/.mmcd_done and skip the '
        'scenes an earlier run with the same settings recorded; the '
        'outputs of unfinished scenes are replaced')
    parser.add_argument(
        '--device',
        default='cpu',
        help='cpu, cuda, cuda:N (cuda under a launcher: the local rank\'s '
        'GPU)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='several processes share the scenes (tools/dist_infer.sh, '
        'tools/slurm_infer.sh); default none')
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error instead of one line')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress output')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    args = parser.parse_args(argv)
    pair = args.a is not None or args.b is not None
    folders = args.a_dir is not None or args.b_dir is not None
    if pair == folders:
        parser.error('give either --a and --b, or --a-dir and --b-dir')
    if pair and (args.a is None or args.b is None):
        parser.error('--a and --b go together')
    if folders and (args.a_dir is None or args.b_dir is None):
        parser.error('--a-dir and --b-dir go together')
    if folders and args.vector:
        parser.error('in folder mode give --vector without a file name '
                     '(one GeoJSON per pair is written next to its GeoTIFF)')
    return args


class ArgumentError(ValueError):
    """A bad argument found after parsing (exit code 2)."""


@dataclass
class Job:
    """One pair of the run and the files it writes.

    Args:
        path_a (str): Date-A file.
        path_b (str): Date-B file.
        name (str): Name of the pair (relative path of date A in folder
            mode, its file name for one pair).
        geo (bool): Tiled GeoTIFF path.
        outputs (dict[str, str]): Kind of output -> file.
    """
    path_a: str
    path_b: str
    name: str
    geo: bool
    outputs: Dict[str, str] = field(default_factory=dict)


def _stem(name: str) -> str:
    return osp.splitext(name)[0]


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse numeric arguments out of range.

    Raises:
        ArgumentError: Naming the option and its valid range.
    """
    if args.tile <= 0:
        raise ArgumentError(f'--tile must be > 0, got {args.tile}')
    if not 0 <= args.overlap < args.tile:
        raise ArgumentError(f'--overlap must be >= 0 and < --tile '
                            f'({args.tile}), got {args.overlap}')
    if args.batch_size < 1:
        raise ArgumentError(f'--batch-size must be >= 1, got '
                            f'{args.batch_size}')
    if args.gdal_cache_mb <= 0:
        raise ArgumentError(f'--gdal-cache-mb must be > 0, got '
                            f'{args.gdal_cache_mb}')
    if args.bands is not None:
        bad = [b for b in args.bands if b < 1]
        if bad:
            raise ArgumentError(f'--bands are 1-based, got {bad}')
        if len(set(args.bands)) != len(args.bands):
            raise ArgumentError(f'--bands lists a band twice: {args.bands}')
        if args.band_order == 'rgb' and len(args.bands) != 3:
            raise ArgumentError('--band-order rgb needs three --bands, got '
                                f'{args.bands}')


def geo_outputs(args: argparse.Namespace,
                name: str,
                out_file: Optional[str] = None) -> Dict[str, str]:
    """The files a GeoTIFF pair writes (the ``.partial`` file included)."""
    out_file = out_file or osp.join(args.out, _stem(name) + '_change.tif')
    paths = {
        'change GeoTIFF': out_file,
        'partial GeoTIFF': out_file + '.partial'
    }
    if args.vector is not None:
        paths['vector'] = args.vector or osp.splitext(out_file)[0] + '.geojson'
    if args.quicklook:
        paths['quick-look'] = osp.splitext(out_file)[0] + '_quicklook.png'
    return paths


def image_outputs(args: argparse.Namespace,
                  name: str,
                  semantic: bool = False,
                  palette: bool = False) -> Dict[str, str]:
    """The PNG files an image pair writes."""
    from mmcd_ext.apis.image_outputs import pair_output_paths
    return pair_output_paths(args.out, _stem(name), args.probs, args.overlay,
                             semantic, palette)


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it (after symlinks)."""
    path, folder = osp.realpath(path), osp.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def prepare(
    args: argparse.Namespace
) -> Tuple[List[Job], Optional[object], 'OutputPlan']:
    """Check every argument and output path; nothing is loaded or written.

    Returns:
        tuple: The jobs (image pairs first), the folder pairing (None for
        one pair) and the output plan.

    Raises:
        ArgumentError, FileNotFoundError, ValueError: For bad arguments
            (the caller exits with :data:`EXIT_ARGS`).
    """
    from mmcd_ext.apis.folder_pairs import match_folder_pairs
    from mmcd_ext.apis.geo_inference import is_geo_path
    from mmcd_ext.apis.output_plan import OutputPlan
    from mmcd_ext.datasets.transforms.loading import check_regular_file
    from mmcd_ext.utils.checkpoint import check_checkpoint_file
    from mmcd_ext.utils.cli import one_line

    check_numbers(args)
    check_regular_file(args.config, 'config')
    try:
        Config.fromfile(args.config)
    except Exception as err:  # mmengine raises many kinds here
        raise ArgumentError(f'config {args.config} cannot be read: '
                            f'{one_line(err)}') from err
    check_checkpoint_file(args.checkpoint)
    inputs = [args.config, args.checkpoint]
    input_dirs: List[str] = []
    found = None
    pair = (args.a, args.b) if args.a is not None else (args.a_dir, args.b_dir)
    if osp.realpath(pair[0]) == osp.realpath(pair[1]):
        raise ArgumentError(f'date A {pair[0]} and date B {pair[1]} are the '
                            'same file or folder')
    if args.a is not None:
        check_regular_file(args.a, 'date-A image')
        check_regular_file(args.b, 'date-B image')
        geo = args.geo or is_geo_path(args.a) or is_geo_path(args.b)
        if osp.isfile(args.out) and not (geo and is_geo_path(args.out)):
            raise ArgumentError(f'--out {args.out} is a file; give a folder '
                                '(a .tif file only for a GeoTIFF pair)')
        name = osp.basename(args.a)
        outputs = geo_outputs(
            args, name, args.out if is_geo_path(args.out) else None) \
            if geo else image_outputs(args, name)
        jobs = [Job(args.a, args.b, name, geo, outputs)]
        inputs += [args.a, args.b]
    else:
        for flag, folder in (('--a-dir', args.a_dir), ('--b-dir', args.b_dir)):
            if not osp.isdir(folder):
                raise ArgumentError(f'{flag} {folder} is not a folder')
            if _inside(args.out, folder):
                raise ArgumentError(
                    f'--out {args.out} is or lies inside the input folder '
                    f'{folder} '
                    '(its files would be read as inputs next time); choose '
                    'another --out')
        input_dirs = [args.a_dir, args.b_dir]
        found = match_folder_pairs(args.a_dir, args.b_dir)
        jobs = []
        for name, paths in found.pairs.items():
            path_a, path_b = paths['img_path'], paths['img_path2']
            check_regular_file(path_a, 'date-A image')
            check_regular_file(path_b, 'date-B image')
            geo = args.geo or is_geo_path(name)
            jobs.append(
                Job(
                    path_a, path_b, name, geo,
                    geo_outputs(args, name) if geo else image_outputs(
                        args, name)))
            inputs += [path_a, path_b]
            input_dirs += [osp.dirname(path_a), osp.dirname(path_b)]
        for role in found.unpaired.values():
            inputs += list(role.values())
    if jobs and not any(job.geo for job in jobs):
        for flag, used in (('--vector', args.vector
                            is not None), ('--quicklook', args.quicklook)):
            if used:
                raise ArgumentError(f'{flag} applies to GeoTIFF scenes only; '
                                    'these inputs are images (add --geo to '
                                    'tile them as rasters)')
    if jobs and args.overlay and all(job.geo for job in jobs):
        raise ArgumentError('--overlay applies to image pairs only; GeoTIFF '
                            'scenes get --quicklook')
    plan = OutputPlan(
        inputs, input_dirs, overwrite=args.overwrite or args.resume)
    jobs.sort(key=lambda job: job.geo)  # image pairs first, see run()
    for job in jobs:
        for kind, path in job.outputs.items():
            plan.add(path, f'the {kind} of {job.path_a}')
    if found is not None and args.vector is not None:
        plan.add(merged_vector_path(args), 'the merged change polygons')
    return jobs, found, plan


def merged_vector_path(args: argparse.Namespace) -> str:
    """Folder mode with ``--vector``: the polygons of every scene."""
    from mmcd_ext.apis.distributed_infer import MERGED_VECTOR
    return osp.join(args.out, MERGED_VECTOR)


def run_settings(args: argparse.Namespace) -> str:
    """Fingerprint of what decides the outputs (for ``--resume``)."""
    from mmcd_ext.apis.distributed_infer import file_stamp, fingerprint
    keys = ('probs', 'overlay', 'geo', 'tile', 'overlap', 'batch_size',
            'bands', 'band_order', 'vector', 'quicklook', 'resample_b',
            'cfg_options')
    return fingerprint(
        dict(
            options={k: getattr(args, k)
                     for k in keys},
            config=file_stamp(args.config),
            checkpoint=file_stamp(args.checkpoint)))


def build_detector(args: argparse.Namespace) -> 'ChangeDetector':
    """The model, with errors that name the config or checkpoint file.

    When building or loading fails, the checkpoint is read once more on its
    own (:func:`~mmcd_ext.utils.checkpoint.read_checkpoint`): a damaged
    file or a refused pickle is then reported as such, naming the file;
    anything else is reported with the config's name.
    """
    from mmcd_ext.apis import ChangeDetector
    from mmcd_ext.utils.checkpoint import CheckpointError, read_checkpoint
    from mmcd_ext.utils.cli import one_line
    try:
        from mmcd_ext.apis.distributed_infer import local_device
        return ChangeDetector(args.config, args.checkpoint,
                              local_device(args.device, args.launcher),
                              args.cfg_options)
    except (CheckpointError, FileNotFoundError):
        raise  # these name their file already
    except Exception as err:
        try:
            read_checkpoint(args.checkpoint)
        except CheckpointError:
            raise
        except Exception as bad:  # what read_checkpoint does not sort
            raise CheckpointError(f'checkpoint {args.checkpoint} cannot be '
                                  f'read: {one_line(bad)}') from err
        if args.config in str(err) or args.checkpoint in str(err):
            raise
        raise RuntimeError(f'cannot build the model of config {args.config} '
                           f'with checkpoint {args.checkpoint}: '
                           f'{one_line(err)}') from err


def add_semantic_outputs(args: argparse.Namespace, jobs: List[Job],
                         plan: 'OutputPlan', palette: bool,
                         run_total: bool) -> None:
    """Add the files of a semantic change model to every job and the plan.

    Image pairs get class-index and colour PNGs and a transition CSV,
    GeoTIFF scenes one-band class GeoTIFFs and a transition CSV
    (:mod:`mmcd_ext.apis.scd_outputs`); ``run_total`` adds the run's total
    CSV. Raises ValueError (from the plan) for a path that may not be
    written.
    """
    from mmcd_ext.apis.scd_outputs import (geo_semantic_paths,
                                           run_transitions_path)
    for job in jobs:
        extra = geo_semantic_paths(job.outputs['change GeoTIFF']) \
            if job.geo else image_outputs(args, job.name, True, palette)
        for kind, path in extra.items():
            if kind not in job.outputs:
                job.outputs[kind] = path
                plan.add(path, f'the {kind} of {job.path_a}')
    if run_total:
        plan.add(run_transitions_path(args.out), 'the run\'s transitions')


def run_geo_pair(detector: 'ChangeDetector',
                 args: argparse.Namespace,
                 job: Job,
                 progress: bool = True,
                 dist: Optional[object] = None) -> dict:
    """Tiled GeoTIFF inference of one pair; returns the summary dict.

    With ``dist`` (a DistContext), every rank calls it for the same pair
    and predicts one strip of it; rank 0 writes the outputs.
    """
    from mmcd_ext.apis import infer_geotiff
    semantic = [
        job.outputs[k] for k in ('class GeoTIFF A', 'class GeoTIFF B')
        if k in job.outputs
    ]
    summary = infer_geotiff(
        detector,
        job.path_a,
        job.path_b,
        job.outputs['change GeoTIFF'],
        tile=args.tile,
        overlap=args.overlap,
        batch_size=args.batch_size,
        bands=args.bands,
        band_order=args.band_order,
        probs=args.probs,
        vector_path=job.outputs.get('vector'),
        quicklook_path=job.outputs.get('quick-look'),
        resample_b=args.resample_b,
        progress=progress and not args.no_progress,
        gdal_cache_mb=args.gdal_cache_mb,
        semantic_paths=semantic or None,
        transitions_path=job.outputs.get('transition summary'),
        dist=dist)
    return summary.to_dict()


def run_image_pair(detector: 'ChangeDetector',
                   args: argparse.Namespace,
                   job: Job,
                   result: Optional[object] = None) -> dict:
    """Whole-image inference of one pair through the config's pipeline."""
    from mmcd_ext.apis.image_outputs import (pair_transitions,
                                             write_pair_outputs)
    if result is None:
        result = detector.predict(
            job.path_a, job.path_b, return_probs=args.probs)
    semantic = result.semantic_a is not None
    written = write_pair_outputs(
        result,
        args.out,
        _stem(job.name),
        probs=args.probs,
        overlay=args.overlay,
        palette=detector.class_palette if semantic else detector.palette,
        class_names=detector.class_names)
    record = dict(
        pair=[job.path_a, job.path_b],
        changed_pixels=int(result.change.sum()),
        files=written)
    if semantic:
        record['transitions'] = pair_transitions(
            result, detector.class_names).to_dict()
    return record


def _report(record: dict) -> None:
    print(json.dumps(record), flush=True)


def _error(message: str) -> None:
    print(f'{TOOL}: error: {message}', file=sys.stderr)


def _list_unmatched(args: argparse.Namespace, found: object) -> None:
    for paths in found.unused.values():
        for path in paths:
            print(f'warning: not an image, not used: {path}', file=sys.stderr)
    for path in found.unpaired['img_path'].values():
        print(
            f'unmatched: {path} has no date-B partner in {args.b_dir}',
            file=sys.stderr)
    for path in found.unpaired['img_path2'].values():
        print(
            f'unmatched: {path} has no date-A partner in {args.a_dir}',
            file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the tool with parsed arguments; returns the exit code.

    Semantic change models (``detector.is_semantic``) write more files
    per pair (:func:`add_semantic_outputs`), checked once the model is
    built, before any file is written; a model that does not declare itself
    is known from its first prediction, whose paths are checked then (image
    pairs run before GeoTIFF scenes). The transition summaries of all pairs
    are added up: folder mode writes ``<out>/transitions.csv``; the table
    goes to stderr, stdout keeping one JSON line per pair.
    """
    from mmcd_ext.apis.distributed_infer import (SceneRun, init_distributed,
                                                 merge_scene_outputs)
    from mmcd_ext.apis.geo_inference import NoValidDataError, is_geo_path
    from mmcd_ext.apis.scd_outputs import run_transitions_path
    from mmcd_ext.utils.cli import one_line
    from mmcd_ext.utils.cpu_malloc import tune_cpu_malloc
    tune_cpu_malloc()
    try:
        jobs, found, plan = prepare(args)
    except (OSError, ValueError) as err:
        _error(str(err) if isinstance(err, ArgumentError) else one_line(err))
        return EXIT_ARGS
    ctx = init_distributed(args.launcher)
    if found is not None:
        if ctx.is_main:
            _list_unmatched(args, found)
        if not found.pairs:
            raise FileNotFoundError(
                f'no image of {args.a_dir} has a partner of the same name in '
                f'{args.b_dir}')
    detector = build_detector(args)
    run_total = found is not None
    if detector.is_semantic:
        try:
            add_semantic_outputs(args, jobs, plan, True, run_total)
        except ValueError as err:
            _error(one_line(err))
            return EXIT_ARGS
    out_dir = args.out
    if found is None and jobs[0].geo and is_geo_path(args.out):
        out_dir = osp.dirname(args.out) or '.'  # --out names the GeoTIFF
    scenes = SceneRun(
        out_dir,
        ctx,
        run_settings(args),
        resume=args.resume,
        records=args.resume or ctx.distributed,
        progress=not args.no_progress
        and (found is not None or ctx.distributed))
    total = len(jobs)
    jobs = scenes.select(
        jobs,
        [os.stat(j.path_a).st_size + os.stat(j.path_b).st_size
         for j in jobs], [list(j.outputs.values()) for j in jobs])
    # fewer GeoTIFF scenes than processes: every rank does a strip of each
    strips = ctx.distributed and 0 < len(scenes.todo) < ctx.world_size \
        and all(job.geo for job in scenes.todo)
    if strips:
        jobs = scenes.todo
    empty = 0
    checked_semantic = detector.is_semantic
    for job in jobs:
        scenes.start(job.name)
        if not job.geo:
            result = detector.predict(
                job.path_a, job.path_b, return_probs=args.probs)
            if not checked_semantic and result.semantic_a is not None:
                try:  # a model that does not declare semantic_change
                    add_semantic_outputs(args, [j for j in jobs if not j.geo],
                                         plan, detector.class_palette
                                         is not None, run_total)
                except ValueError as err:
                    _error(one_line(err))
                    return EXIT_ARGS
            checked_semantic = True
            report = run_image_pair(detector, args, job, result)
            _report(report)
            scenes.done(
                job,
                list(job.outputs.values()) + list(report['files'].values()),
                report)
            continue
        try:
            report = run_geo_pair(detector, args, job, not scenes.progress,
                                  ctx if strips else None)
            if ctx.is_main or not strips:
                _report(report)
        except NoValidDataError as err:
            if ctx.is_main or not strips:  # counted once
                _error(one_line(err))
                empty += 1
            report = dict(pair=[job.path_a, job.path_b], no_valid_data=True)
        if ctx.is_main or not strips:  # rank 0 wrote the strips' outputs
            scenes.done(job, job.outputs.values(), report)
    empty += sum(1 for r in scenes.skipped_reports() if r.get('no_valid_data'))

    def merge(records: list) -> None:  # rank 0, every scene's record
        merge_scene_outputs(
            records,
            merged_vector_path(args)
            if found is not None and args.vector is not None else None,
            transitions_csv=run_transitions_path(args.out)
            if run_total else None,
            class_names=detector.class_names,
            table_stream=sys.stderr)

    empty = scenes.finish(dict(empty=empty), merge)['empty']
    if not ctx.is_main:  # rank 0 prints the totals; same exit code
        return EXIT_NO_DATA if empty else EXIT_UNMATCHED if (
            found is not None and found.num_unpaired) else 0
    if scenes.skipped:
        print(
            f'--resume: {len(scenes.skipped)} of {total} scene(s) were '
            'complete already and were skipped',
            file=sys.stderr)
    if empty:
        if found is not None:
            print(
                f'{empty} scene(s) had no valid pixel and were not written '
                f'(listed above); {total - empty} pair(s) done',
                file=sys.stderr)
        return EXIT_NO_DATA
    if found is not None and found.num_unpaired:
        print(
            f'{found.num_unpaired} image(s) without a partner were '
            f'not processed (listed above); {len(found.pairs)} '
            'pair(s) done',
            file=sys.stderr)
        return EXIT_UNMATCHED
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run the tool; returns the exit code (see the module docstring)."""
    from mmcd_ext.utils.cli import tool_errors
    args = parse_args(argv)  # usage errors exit 2 here
    try:
        with tool_errors(TOOL, args.debug):
            return run(args)
    except SystemExit as done:  # tool_errors printed the one-line error
        return int(done.code)


if __name__ == '__main__':
    sys.exit(main())
