"""Many scenes, many processes: sharding, completion records, resume, merge.

``tools/infer.py --launcher pytorch|slurm`` (``tools/dist_infer.sh``,
``tools/slurm_infer.sh``) runs one process per GPU or CPU worker. Every
process builds the same list of scenes; rank 0 decides which are still to
do and broadcasts it, the list is split into one shard per rank
(:func:`shard`, balanced by input size) and each rank writes the outputs of
its own scenes. Ranks talk only through small gloo messages (the list, the
exit codes, two barriers), so the output folder must be shared by all
processes (one machine, or a shared file system across nodes).

Completion records make a run resumable. A scene's outputs are written
atomically (temporary name, then rename); when all of them are on disk, a
record ``<out>/.mmcd_done/<name>.json`` is written, atomically and last.
The record of a scene is removed before the scene starts, so a record
exists only for a scene whose every output of the latest attempt is
complete: a run killed at any point leaves nothing that a later run takes
as finished. ``--resume`` skips a scene whose record names the same
settings (:func:`fingerprint`) and whose recorded outputs are all there
with their recorded sizes; every other scene is done again.

With fewer scenes than processes, all of them GeoTIFF scenes,
``tools/infer.py`` does the scenes one after the other with every process
instead, each predicting a horizontal strip of the scene's tile grid
(:mod:`mmcd_ext.apis.geo_strips`); rank 0 assembles the outputs, the same
bytes as one process writes, and records the scene.

After a barrier, rank 0 merges what needs every scene
(:func:`merge_scene_outputs`): the change polygons of all scenes into one
GeoJSON, and the transition summaries of a semantic change model into the
run's total.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import sys
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from mmcd_ext.utils.atomic import atomic_path
from mmcd_ext.utils.atomic_files import write_text

#: Folder (inside ``--out``) of the per-scene completion records.
RECORD_DIR = '.mmcd_done'
#: File name of the merged change polygons in ``--out``.
MERGED_VECTOR = 'merged_change.geojson'
#: Version of the record format; records of another version are redone.
RECORD_VERSION = 1
#: Test hook: a rank exits hard (no record, no cleanup) when it is about to
#: record its scene number N + 1, after that scene's outputs are written.
STOP_AFTER_ENV = 'MMCD_INFER_STOP_AFTER'
#: Restrict :data:`STOP_AFTER_ENV` to one rank.
STOP_RANK_ENV = 'MMCD_INFER_STOP_RANK'
#: Exit code of the test hook.
STOP_EXIT_CODE = 75
#: How long a barrier waits for the slowest rank by default: the ranks'
#: shards may take hours more or less than each other.
DEFAULT_TIMEOUT = timedelta(hours=24)


@dataclass
class DistContext:
    """This process's place in the run.

    Args:
        rank (int): Global rank.
        world_size (int): Number of processes.
        distributed (bool): Whether a process group exists.
    """
    rank: int = 0
    world_size: int = 1
    distributed: bool = False

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0."""
        return self.rank == 0

    def close(self) -> None:
        """Leave the process group (at the end of the run)."""
        if self.distributed:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()
            self.distributed = False

    def barrier(self) -> None:
        """Wait for every rank (no-op in one process)."""
        if self.distributed:
            import torch.distributed as dist
            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (picklable objects)."""
        if not self.distributed:
            return obj
        import torch.distributed as dist
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> List[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist
        out: List[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


def init_distributed(launcher: str,
                     timeout: timedelta = DEFAULT_TIMEOUT) -> DistContext:
    """Join the run's process group (gloo: only small messages are sent).

    Args:
        launcher (str): ``'none'`` (one process), ``'pytorch'`` (torchrun),
            ``'slurm'`` (srun) or ``'mpi'``.
        timeout (timedelta): How long a barrier waits for the slowest rank.
            Defaults to :data:`DEFAULT_TIMEOUT`.

    Returns:
        DistContext: Rank and world size.
    """
    if launcher == 'none':
        return DistContext()
    import torch.distributed as dist

    from mmcd_ext.utils.launch import init_process_group
    init_process_group(launcher, backend='gloo', timeout=timeout)
    return DistContext(dist.get_rank(), dist.get_world_size(), True)


def local_device(device: str, launcher: str) -> str:
    """``cuda`` on a multi-process launch becomes this process's GPU.

    Args:
        device (str): ``--device`` (``cpu``, ``cuda``, ``cuda:N``).
        launcher (str): The launcher.

    Returns:
        str: ``cuda:LOCAL_RANK`` for ``cuda`` under a launcher, else
        ``device``.
    """
    if launcher != 'none' and device == 'cuda':
        return f'cuda:{os.environ.get("LOCAL_RANK", "0")}'
    return device


def shard(weights: Sequence[float], world_size: int) -> List[List[int]]:
    """Split items into ``world_size`` shards of about equal total weight.

    Greedy longest-processing-time assignment: items in decreasing weight
    (ties: lower index first) each go to the shard with the smallest total
    so far (ties: lower rank). Deterministic, so every rank computes the
    same shards; each shard lists its indices in increasing order.

    Args:
        weights (Sequence[float]): Cost of each item (e.g. input bytes).
        world_size (int): Number of shards.

    Returns:
        list[list[int]]: Indices into ``weights`` per rank.

    Raises:
        ValueError: If ``world_size < 1`` or a weight is negative.
    """
    if world_size < 1:
        raise ValueError(f'world_size must be >= 1, got {world_size}')
    if any(w < 0 for w in weights):
        raise ValueError('shard weights must be >= 0')
    totals = [0.0] * world_size
    shards: List[List[int]] = [[] for _ in range(world_size)]
    for i in sorted(range(len(weights)), key=lambda i: (-weights[i], i)):
        rank = min(range(world_size), key=lambda r: (totals[r], r))
        shards[rank].append(i)
        totals[rank] += weights[i]
    return [sorted(s) for s in shards]


def fingerprint(settings: Dict[str, Any]) -> str:
    """A hash of what decides a scene's outputs (JSON of ``settings``).

    Args:
        settings (dict): JSON-serialisable settings (options, the model
            files' sizes and times, ...).

    Returns:
        str: Hex SHA-256.
    """
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def file_stamp(path: str) -> List[int]:
    """``[size, mtime_ns]`` of a file, to notice a changed input."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def record_path(out_dir: str, name: str) -> str:
    """The completion record of scene ``name`` (may contain sub-folders)."""
    return osp.join(out_dir, RECORD_DIR, name + '.json')


def write_record(out_dir: str, name: str, key: str, outputs: Sequence[str],
                 report: Dict[str, Any]) -> str:
    """Record scene ``name`` as complete (atomically; call it last).

    Args:
        out_dir (str): The run's output folder.
        name (str): Scene name.
        key (str): :func:`fingerprint` of the run's settings.
        outputs (Sequence[str]): Every file the scene wrote; each must
            exist.
        report (dict): What the tool reported for the scene (JSON).

    Returns:
        str: The record's path.
    """
    path = record_path(out_dir, name)
    os.makedirs(osp.dirname(path), exist_ok=True)
    record = dict(
        version=RECORD_VERSION,
        name=name,
        fingerprint=key,
        outputs={p: os.stat(p).st_size
                 for p in outputs},
        report=report)
    write_text(path, json.dumps(record, sort_keys=True, default=str) + '\n')
    return path


def read_record(out_dir: str, name: str) -> Optional[Dict[str, Any]]:
    """The record of scene ``name``, or None if absent or unreadable."""
    try:
        with open(record_path(out_dir, name), encoding='utf-8') as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_is_complete(record: Optional[Dict[str, Any]], key: str) -> bool:
    """Whether ``record`` shows a finished scene of the same settings.

    True only if the record has this format version and fingerprint, and
    each recorded output exists with its recorded size.
    """
    if not record or record.get('version') != RECORD_VERSION \
            or record.get('fingerprint') != key:
        return False
    outputs = record.get('outputs')
    if not isinstance(outputs, dict):
        return False
    for path, size in outputs.items():
        try:
            if os.stat(path).st_size != size:
                return False
        except OSError:
            return False
    return True


def remove_record(out_dir: str, name: str) -> None:
    """Forget that scene ``name`` was complete (before it is redone)."""
    try:
        os.remove(record_path(out_dir, name))
    except FileNotFoundError:
        pass


def remove_stale_temporaries(paths: Sequence[str]) -> List[str]:
    """Delete temporary files a killed writer of ``paths`` left behind.

    The atomic writers name them ``.{name}.{random}.tmp`` next to the
    destination (:func:`mmcd_ext.utils.atomic.temporary_name`); only those
    of the given destinations are removed. Call it while no process writes
    these files.

    Args:
        paths (Sequence[str]): Output files of the run.

    Returns:
        list[str]: The removed files.
    """
    removed = []
    for path in paths:
        folder, base = osp.split(osp.abspath(path))
        for tmp in glob.glob(
                osp.join(
                    glob.escape(folder),
                    glob.escape(f'.{base}.') + '*.tmp')):
            try:
                os.remove(tmp)
                removed.append(tmp)
            except FileNotFoundError:
                pass
    return removed


def _stop_hook(rank: int, recorded: int) -> None:
    """The :data:`STOP_AFTER_ENV` test hook (see its description)."""
    after = os.environ.get(STOP_AFTER_ENV)
    if after is None:
        return
    only = os.environ.get(STOP_RANK_ENV)
    if only is not None and int(only) != rank:
        return
    if recorded >= int(after):
        sys.stderr.flush()
        os._exit(STOP_EXIT_CODE)


class RunProgress:
    """Rank 0's progress bar over the whole run: scenes, tiles, rates, ETA.

    Uses ``rich`` (installed with mmengine). Finished scenes are counted
    from the completion records of every rank, polled by a thread, so the
    bar shows the whole run, not rank 0's shard.

    Args:
        out_dir (str): The output folder.
        names (Sequence[str]): The scenes this run does.
        interval (float): Seconds between polls. Defaults to 1.0.
    """

    def __init__(self,
                 out_dir: str,
                 names: Sequence[str],
                 interval: float = 1.0) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                                   ProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        from rich.text import Text

        class _Rates(ProgressColumn):

            def render(self, task: Any) -> Text:
                elapsed = task.elapsed or 0.0
                if not elapsed:
                    return Text('-- scenes/s -- tiles/s')
                return Text(f'{task.completed / elapsed:.2f} scenes/s '
                            f'{task.fields["tiles"] / elapsed:.1f} tiles/s')

        self.out_dir = out_dir
        self.pending = list(names)
        self.interval = interval
        self.tiles = 0
        self.done = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._progress = Progress(
            TextColumn('scenes'),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            _Rates(),
            TimeElapsedColumn(),
            TextColumn('ETA'),
            TimeRemainingColumn(),
            console=Console(stderr=True))
        self._task = self._progress.add_task(
            'scenes', total=len(self.pending), tiles=0)
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> 'RunProgress':
        self._progress.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.update()
        self._progress.stop()

    def update(self) -> None:
        """Count the scenes recorded since the last poll."""
        with self._lock:
            still = []
            for name in self.pending:
                record = read_record(self.out_dir, name)
                if record is None:
                    still.append(name)
                    continue
                self._count(record.get('report', {}))
            self.pending = still
            self._show()

    def mark(self, name: str, report: Dict[str, Any]) -> None:
        """Count a scene finished by this process (a run without records).
        """
        with self._lock:
            if name in self.pending:
                self.pending.remove(name)
                self._count(report)
                self._show()

    def _count(self, report: Dict[str, Any]) -> None:
        self.done += 1
        self.tiles += int(report.get('tiles', 1) or 0)

    def _show(self) -> None:
        self._progress.update(
            self._task, completed=self.done, tiles=self.tiles)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self.update()


class SceneRun:
    """One rank's part of a resumable, possibly distributed, inference run.

    Usage (``tools/infer.py``)::

        run = SceneRun(out_dir, ctx, key, resume=True, records=True)
        for scene in run.select(scenes, weights):   # this rank's shard
            run.start(scene.name)
            ...                                      # write its outputs
            run.done(scene, outputs, report)
        totals = run.finish(local_counts, merge)

    Args:
        out_dir (str): Output folder (shared by every rank).
        ctx (DistContext): Rank and world size.
        key (str): :func:`fingerprint` of the run's settings (a scene's
            record also depends on the stamps of its input files).
        resume (bool): Skip scenes recorded complete with this ``key``.
            Defaults to False.
        records (bool): Write completion records. Defaults to True.
        progress (bool): Show the run's progress bar (rank 0 only).
            Defaults to False.
    """

    def __init__(self,
                 out_dir: str,
                 ctx: DistContext,
                 key: str,
                 resume: bool = False,
                 records: bool = True,
                 progress: bool = False) -> None:
        self.out_dir = out_dir
        self.ctx = ctx
        self.key = key
        self.resume = resume
        self.records = records or resume
        self.progress = progress and ctx.is_main
        self.names: List[str] = []
        self.skipped: List[str] = []
        self.todo: list = []
        self.recorded = 0
        self._bar: Optional[RunProgress] = None
        self._local: Dict[str, Dict[str, Any]] = {}

    def select(self,
               scenes: Sequence[Any],
               weights: Optional[Sequence[float]] = None,
               outputs: Optional[Sequence[Sequence[str]]] = None) -> list:
        """This rank's scenes still to do.

        Rank 0 decides: with ``resume`` it drops the scenes recorded
        complete; it removes the records of the others and the temporary
        files killed writers left among ``outputs``. Every rank then takes
        its :func:`shard` of rank 0's list.

        Args:
            scenes (Sequence): Objects with a ``name``, in the same order
                on every rank.
            weights (Sequence[float], optional): Cost per scene. Defaults
                to None (equal).
            outputs (Sequence[Sequence[str]], optional): The files of each
                scene, for the clean-up of temporaries. Defaults to None.

        Returns:
            list: The scenes of this rank, in input order
            (:attr:`todo` lists those of every rank).
        """
        names = [s.name for s in scenes]
        todo = list(range(len(scenes)))
        if self.ctx.is_main:
            if self.resume:
                todo = [
                    i for i in todo if not record_is_complete(
                        read_record(self.out_dir, names[i]),
                        self.scene_key(scenes[i]))
                ]
            if self.records:
                for i in todo:
                    remove_record(self.out_dir, names[i])
            if outputs is not None:
                remove_stale_temporaries(
                    [p for i in todo for p in outputs[i]] +
                    [record_path(self.out_dir, names[i]) for i in todo])
        todo = self.ctx.broadcast(todo)
        chosen = set(todo)
        self.skipped = [n for i, n in enumerate(names) if i not in chosen]
        self.todo = [scenes[i] for i in todo]
        self.names = names
        if weights is None:
            weights = [1.0] * len(scenes)
        mine = shard([weights[i] for i in todo],
                     self.ctx.world_size)[self.ctx.rank]
        if self.progress and todo:
            self._bar = RunProgress(self.out_dir, [names[i] for i in todo])
            self._bar.__enter__()
        return [scenes[todo[j]] for j in mine]

    def scene_key(self, scene: Any) -> str:
        """The run's key and the stamps of the scene's input files."""
        files = [
            getattr(scene, attr) for attr in ('path_a', 'path_b')
            if getattr(scene, attr, None)
        ]
        return fingerprint(
            dict(run=self.key, inputs=[file_stamp(p) for p in files]))

    def start(self, name: str) -> None:
        """Scene ``name`` is about to be written (its record is removed)."""
        if self.records:
            remove_record(self.out_dir, name)

    def done(self, scene: Any, outputs: Sequence[str],
             report: Dict[str, Any]) -> None:
        """``scene`` is complete: record it (call when its outputs exist).

        Args:
            scene: The scene (``name``; ``path_a`` / ``path_b`` if any).
            outputs (Sequence[str]): Its files; those that do not exist
                (e.g. outputs of a scene without valid pixels) are left
                out.
            report (dict): What the tool reported for it (JSON).
        """
        if not self.records:  # kept for the merge and the bar only
            self._local[scene.name] = dict(name=scene.name, report=report)
            if self._bar is not None:
                self._bar.mark(scene.name, report)
            return
        _stop_hook(self.ctx.rank, self.recorded)
        write_record(self.out_dir, scene.name, self.scene_key(scene),
                     [p for p in outputs if osp.isfile(p)], report)
        self.recorded += 1

    def skipped_reports(self) -> List[Dict[str, Any]]:
        """The recorded reports of the scenes skipped by ``resume``.

        On rank 0 only (an empty list elsewhere), so counts taken from them
        and summed by :meth:`finish` count each scene once.
        """
        if not self.ctx.is_main:
            return []
        reports = []
        for name in self.skipped:
            record = read_record(self.out_dir, name) or {}
            reports.append(record.get('report', {}))
        return reports

    def finish(
        self,
        counts: Dict[str, int],
        merge: Optional[Callable[[List[Dict[str, Any]]], None]] = None
    ) -> Dict[str, int]:
        """Wait for every rank, rank 0 merges; returns the summed counts.

        The process group is left afterwards (the run is over).

        Args:
            counts (dict[str, int]): This rank's counters (e.g. scenes
                without valid pixels).
            merge (callable, optional): Called on rank 0 after the barrier
                with every scene's record (all scenes of the run, in name
                order, skipped ones included; None for a scene without a
                record; without records, ``{name, report}`` of the scenes
                done by this run). Defaults to None.

        Returns:
            dict[str, int]: The counters summed over ranks.
        """
        gathered = self.ctx.gather((counts, self._local))  # and a barrier
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        if self.ctx.is_main and merge is not None:
            if self.records:
                merge(
                    [read_record(self.out_dir, n) for n in sorted(self.names)])
            else:  # the reports of this run, sent with the counts
                local = {k: v for _, part in gathered for k, v in part.items()}
                merge([local.get(n) for n in sorted(self.names)])
        self.ctx.barrier()  # no rank exits before the merged files exist
        self.ctx.close()
        total: Dict[str, int] = {}
        for part, _ in gathered:
            for k, v in part.items():
                total[k] = total.get(k, 0) + v
        return total


def _crs_of(collection: Dict[str, Any]) -> Optional[str]:
    crs = collection.get('crs')
    return json.dumps(crs, sort_keys=True) if crs is not None else None


def merge_vectors(sources: Sequence[Sequence[str]], out_path: str) -> int:
    """Merge per-scene GeoJSON files of change polygons into one.

    Each feature gets a ``scene`` property. If every file names the same
    CRS, coordinates and the ``crs`` member are kept; otherwise every
    geometry is reprojected to WGS 84 longitude/latitude (RFC 7946, no
    ``crs`` member; ``area`` keeps each scene's units). Written atomically;
    one scene's features are in memory at a time.

    Args:
        sources (Sequence[tuple[str, str]]): ``(scene name, GeoJSON path)``
            in output order.
        out_path (str): The merged file.

    Returns:
        int: The number of features written.

    Raises:
        ValueError: If a source is not a GeoJSON FeatureCollection (naming
            it).
    """
    crss = set()
    for _, path in sources:
        with open(path, encoding='utf-8') as f:
            head = json.load(f)
        if not isinstance(head, dict) or head.get('type') != \
                'FeatureCollection':
            raise ValueError(f'{path} is not a GeoJSON FeatureCollection')
        crss.add(_crs_of(head))
    same = len(crss) <= 1
    header: Dict[str, Any] = {'type': 'FeatureCollection', 'name': 'merged'}
    if same and crss and next(iter(crss)) is not None:
        header['crs'] = json.loads(next(iter(crss)))
    count = 0
    with atomic_path(out_path) as tmp, open(tmp, 'w', encoding='utf-8') as f:
        f.write(json.dumps(header)[:-1] + ', "features": [\n')
        for scene, path in sources:
            with open(path, encoding='utf-8') as src:
                collection = json.load(src)
            to_wgs84 = None
            if not same:
                to_wgs84 = _reprojector(collection, path)
            for feature in collection.get('features', []):
                feature = dict(feature)
                feature['properties'] = dict(
                    feature.get('properties') or {}, scene=scene)
                if to_wgs84 is not None:
                    feature['geometry'] = to_wgs84(feature['geometry'])
                if count:
                    f.write(',\n')
                f.write(json.dumps(feature))
                count += 1
        f.write('\n]}\n')
    return count


def _reprojector(collection: Dict[str, Any],
                 path: str) -> Callable[[dict], dict]:
    """Geometry transform from the collection's CRS to EPSG:4326."""
    from rasterio.warp import transform_geom
    crs = (collection.get('crs') or {}).get('properties', {}).get('name')
    if crs is None:
        raise ValueError(f'{path} names no CRS; the scenes have different '
                         'CRSs, so its polygons cannot be merged')
    if crs.startswith('urn:ogc:def:crs:EPSG::'):
        crs = 'EPSG:' + crs.rsplit(':', 1)[1]
    return lambda geom: transform_geom(crs, 'EPSG:4326', geom)


def merge_scene_outputs(
        records: Sequence[Optional[Dict[str, Any]]],
        vector_path: Optional[str] = None,
        transitions_csv: Optional[str] = None,
        class_names: Optional[Sequence[str]] = None,
        table_stream: Optional[TextIO] = None) -> Dict[str, Any]:
    """What rank 0 writes from every scene once all ranks are done.

    Args:
        records (Sequence[dict | None]): Every scene's completion record
            (:meth:`SceneRun.finish` passes them).
        vector_path (str, optional): Write the merged change polygons
            (each scene's ``report['vector_path']``) here. Defaults to None.
        transitions_csv (str, optional): Write the sum of the scenes'
            transition summaries (``report['transitions']`` of semantic
            change models) here. Defaults to None.
        class_names (Sequence[str], optional): Names of the class indices
            of the summaries. Defaults to None.
        table_stream (TextIO, optional): Print the summed transition table
            here. Defaults to None.

    Returns:
        dict: What was merged (``vector``, ``polygons``, ``transitions``,
        each when written).
    """
    from .scd_outputs import TransitionTotals
    merged: Dict[str, Any] = {}
    done = [r for r in records if r]
    if vector_path is not None:
        sources = [(r['name'], r['report']['vector_path']) for r in done
                   if r.get('report', {}).get('vector_path')]
        merged['vector'] = vector_path
        merged['polygons'] = merge_vectors(sources, vector_path)
    totals = TransitionTotals(class_names)
    for record in done:
        totals.add(record.get('report', {}).get('transitions'))
    if totals.finish(transitions_csv, table_stream) is not None \
            and transitions_csv:
        merged['transitions'] = transitions_csv
    return merged
