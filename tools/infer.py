"""Detect change with a trained model: image pairs, folders, GeoTIFF scenes.

Usage::

    # one pair -> out/0001.png (0/255)
    python tools/infer.py CONFIG CKPT --a A/0001.png --b B/0001.png --out out
    # two folders, pairs matched by file name
    python tools/infer.py CONFIG CKPT --a-dir A --b-dir B --out out
    # a large georeferenced scene, tiled, written as a GeoTIFF
    python tools/infer.py CONFIG CKPT --a a.tif --b b.tif --out out \\
        --tile 512 --overlap 64 --batch-size 4 --probs \\
        --vector --quicklook

``.tif``/``.tiff`` inputs (or ``--geo``) go through the large-scene path
(needs rasterio: ``pip install -e ".[geo]"``). See docs/inference.md.

Exit codes: 0 success; 1 an error (message on stderr); 2 bad arguments;
3 folder mode found images without a partner in the other folder -- every
matched pair was processed, the unmatched files are listed on stderr.
"""
import argparse
import json
import os.path as osp
import sys
from typing import TYPE_CHECKING, List, Optional

from mmengine.config import DictAction

if TYPE_CHECKING:
    from mmcd_ext.apis import ChangeDetector

#: Exit code of folder mode when some images had no partner.
EXIT_UNMATCHED = 3


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
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:N')
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


def _stem(name: str) -> str:
    return osp.splitext(name)[0]


def run_geo_pair(detector: 'ChangeDetector',
                 args: argparse.Namespace,
                 path_a: str,
                 path_b: str,
                 name: str,
                 out_file: Optional[str] = None) -> dict:
    """Tiled GeoTIFF inference of one pair; returns the summary dict."""
    from mmcd_ext.apis import infer_geotiff
    out_file = out_file or osp.join(args.out, _stem(name) + '_change.tif')
    vector = None
    if args.vector is not None:
        vector = args.vector or osp.splitext(out_file)[0] + '.geojson'
    quicklook = osp.splitext(out_file)[0] + '_quicklook.png' \
        if args.quicklook else None
    summary = infer_geotiff(
        detector,
        path_a,
        path_b,
        out_file,
        tile=args.tile,
        overlap=args.overlap,
        batch_size=args.batch_size,
        bands=args.bands,
        band_order=args.band_order,
        probs=args.probs,
        vector_path=vector,
        quicklook_path=quicklook,
        resample_b=args.resample_b,
        progress=not args.no_progress,
        gdal_cache_mb=args.gdal_cache_mb)
    return summary.to_dict()


def run_image_pair(detector: 'ChangeDetector', args: argparse.Namespace,
                   path_a: str, path_b: str, name: str) -> dict:
    """Whole-image inference of one pair through the config's pipeline."""
    from mmcd_ext.apis.image_outputs import write_pair_outputs
    result = detector.predict(path_a, path_b, return_probs=args.probs)
    written = write_pair_outputs(
        result,
        args.out,
        _stem(name),
        probs=args.probs,
        overlay=args.overlay,
        palette=detector.palette)
    return dict(
        pair=[path_a, path_b],
        changed_pixels=int(result.change.sum()),
        files=written)


def _report(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the tool; returns the exit code."""
    args = parse_args(argv)
    try:
        from mmcd_ext.apis import ChangeDetector
        from mmcd_ext.apis.folder_pairs import match_folder_pairs
        from mmcd_ext.apis.geo_inference import is_geo_path
        if args.a is not None:
            for path in (args.a, args.b):
                if not osp.isfile(path):
                    raise FileNotFoundError(f'input image {path} does not '
                                            'exist')
            geo = args.geo or is_geo_path(args.a) or is_geo_path(args.b)
            detector = ChangeDetector(args.config, args.checkpoint,
                                      args.device, args.cfg_options)
            name = osp.basename(args.a)
            if geo:
                out_file = args.out if is_geo_path(args.out) else None
                _report(
                    run_geo_pair(detector, args, args.a, args.b, name,
                                 out_file))
            else:
                _report(run_image_pair(detector, args, args.a, args.b, name))
            return 0

        found = match_folder_pairs(args.a_dir, args.b_dir)
        for paths in found.unused.values():
            for path in paths:
                print(
                    f'warning: not an image, not used: {path}',
                    file=sys.stderr)
        for path in found.unpaired['img_path'].values():
            print(
                f'unmatched: {path} has no date-B partner in {args.b_dir}',
                file=sys.stderr)
        for path in found.unpaired['img_path2'].values():
            print(
                f'unmatched: {path} has no date-A partner in {args.a_dir}',
                file=sys.stderr)
        if not found.pairs:
            raise FileNotFoundError(
                f'no image of {args.a_dir} has a partner of the same name in '
                f'{args.b_dir}')
        detector = ChangeDetector(args.config, args.checkpoint, args.device,
                                  args.cfg_options)
        for name, paths in found.pairs.items():
            path_a, path_b = paths['img_path'], paths['img_path2']
            if args.geo or is_geo_path(name):
                _report(run_geo_pair(detector, args, path_a, path_b, name))
            else:
                _report(run_image_pair(detector, args, path_a, path_b, name))
        if found.num_unpaired:
            print(
                f'{found.num_unpaired} image(s) without a partner were '
                f'not processed (listed above); {len(found.pairs)} '
                'pair(s) done',
                file=sys.stderr)
            return EXIT_UNMATCHED
        return 0
    except (FileNotFoundError, ValueError, RuntimeError, ImportError,
            TypeError, KeyError, OSError) as err:
        print(f'infer.py: error: {err}', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
