"""From-to summary of semantic change: which class became which, how much.

:class:`TransitionSummary` counts, over the changed pixels of one or more
scenes, how many went from class ``i`` (date A) to class ``j`` (date B).
For georeferenced scenes the pixel area is known and the matrix is also
given in m^2 and hectares. Summaries of several scenes add up
(:meth:`TransitionSummary.merge`), also after a round trip through their CSV
files (:meth:`TransitionSummary.read_csv`), so the ranks of a distributed
run can each write theirs and rank 0 merge them.

CSV layout (one row per non-zero transition, then a total row)::

    class_from,class_to,name_from,name_to,pixels,area_m2,area_ha
    1,3,water,low vegetation,120,1200.0,0.12
    ...
    ,,total,,456,4560.0,0.456

``area_m2`` / ``area_ha`` are empty when the pixel area is unknown (image
pairs, or a CRS not in metres).
"""
import csv
import io
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from mmcd_ext.utils.atomic_files import write_bytes

#: Column names of the CSV file.
CSV_COLUMNS = ('class_from', 'class_to', 'name_from', 'name_to', 'pixels',
               'area_m2', 'area_ha')


def _default_names(num: int) -> List[str]:
    return ['no change'] + [f'class {k}' for k in range(1, num)]


class TransitionSummary:
    """From-to matrix of changed pixels between two dates' class maps.

    ``matrix[i, j]`` counts pixels that are changed, valid, of class ``i``
    in date A and class ``j`` in date B. Pixels that are unchanged (``0`` in
    both maps) are not counted. The matrix grows when a map holds a class
    index beyond the known classes.

    Args:
        class_names (Sequence[str], optional): Name of each class index
            (index 0 "no change"). Defaults to None (``'no change'``,
            ``'class 1'``, ...; as many as seen).
        pixel_area_m2 (float, optional): Area of one pixel in m^2 (all
            scenes of a summary must share it to give areas). Defaults to
            None (unknown: areas are not reported).

    Example::

        summary = TransitionSummary(detector.class_names)
        summary.add_maps(result.semantic_a, result.semantic_b)
        print(summary.to_table())
        summary.write_csv('out/transitions.csv')
    """

    def __init__(self,
                 class_names: Optional[Sequence[str]] = None,
                 pixel_area_m2: Optional[float] = None) -> None:
        self.class_names: List[str] = list(class_names or [])
        num = max(len(self.class_names), 1)
        self.matrix = np.zeros((num, num), dtype=np.int64)
        self.pixel_area_m2 = pixel_area_m2
        if not self.class_names:
            self.class_names = _default_names(num)

    # ------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """Size of the (square) matrix."""
        return self.matrix.shape[0]

    @property
    def changed_pixels(self) -> int:
        """Pixels counted in the matrix."""
        return int(self.matrix.sum())

    def _grow(self, num: int) -> None:
        if num <= self.num_classes:
            return
        grown = np.zeros((num, num), dtype=np.int64)
        grown[:self.num_classes, :self.num_classes] = self.matrix
        self.matrix = grown
        self.class_names += _default_names(num)[len(self.class_names):]

    def add_maps(self,
                 sem_a: np.ndarray,
                 sem_b: np.ndarray,
                 valid: Optional[np.ndarray] = None,
                 change: Optional[np.ndarray] = None) -> None:
        """Count the transitions of one pair of class maps.

        Args:
            sem_a (np.ndarray): ``(H, W)`` class indices of date A (0 "no
                change" outside the change mask).
            sem_b (np.ndarray): Same for date B.
            valid (np.ndarray, optional): ``(H, W)`` bool, pixels to count.
                Defaults to None (all).
            change (np.ndarray, optional): ``(H, W)`` change mask; pixels
                where it is 0 are not counted. Defaults to None (changed =
                nonzero in either map).

        Raises:
            ValueError: If the shapes differ or an index is negative.
        """
        sem_a, sem_b = np.asarray(sem_a), np.asarray(sem_b)
        if sem_a.shape != sem_b.shape:
            raise ValueError(f'the class maps differ in shape: {sem_a.shape} '
                             f'and {sem_b.shape}')
        mask = (sem_a != 0) | (sem_b != 0) if change is None else \
            np.asarray(change) != 0
        if valid is not None:
            mask &= np.asarray(valid, dtype=bool)
        a = sem_a[mask].astype(np.int64)
        b = sem_b[mask].astype(np.int64)
        if a.size == 0:
            return
        if min(int(a.min()), int(b.min())) < 0:
            raise ValueError('class maps hold negative class indices')
        self._grow(max(int(a.max()), int(b.max())) + 1)
        num = self.num_classes
        self.matrix += np.bincount(
            a * num + b, minlength=num * num).reshape(num, num)

    # ------------------------------------------------------------------
    def area_m2(self) -> Optional[np.ndarray]:
        """The matrix in m^2, or None when the pixel area is unknown."""
        if self.pixel_area_m2 is None:
            return None
        return self.matrix * float(self.pixel_area_m2)

    def area_ha(self) -> Optional[np.ndarray]:
        """The matrix in hectares, or None when the pixel area is unknown."""
        m2 = self.area_m2()
        return None if m2 is None else m2 / 1e4

    def rows(self) -> List[Dict[str, Union[int, float, str, None]]]:
        """The non-zero transitions as dicts with the CSV columns."""
        out = []
        for i, j in zip(*np.nonzero(self.matrix)):
            pixels = int(self.matrix[i, j])
            m2 = None if self.pixel_area_m2 is None else \
                pixels * float(self.pixel_area_m2)
            out.append(
                dict(
                    class_from=int(i),
                    class_to=int(j),
                    name_from=self.class_names[i],
                    name_to=self.class_names[j],
                    pixels=pixels,
                    area_m2=m2,
                    area_ha=None if m2 is None else m2 / 1e4))
        return out

    def to_dict(self) -> dict:
        """JSON-serialisable form: names, matrix, pixel area."""
        return dict(
            class_names=list(self.class_names),
            matrix=self.matrix.tolist(),
            pixel_area_m2=self.pixel_area_m2,
            changed_pixels=self.changed_pixels)

    @classmethod
    def from_dict(cls, data: dict) -> 'TransitionSummary':
        """Rebuild a summary from :meth:`to_dict`.

        Raises:
            ValueError: If the matrix is not square or does not fit the
                class names.
        """
        matrix = np.asarray(data.get('matrix', []), dtype=np.int64)
        names = list(data.get('class_names') or [])
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or (
                names and len(names) != matrix.shape[0]):
            raise ValueError('a transition summary needs a square matrix '
                             'with one class name per row, got shape '
                             f'{matrix.shape} and {len(names)} names')
        summary = cls(names or None, data.get('pixel_area_m2'))
        summary._grow(matrix.shape[0])
        summary.matrix[:, :] = matrix
        return summary

    # ------------------------------------------------------------------
    @classmethod
    def merge(cls,
              summaries: Iterable['TransitionSummary']) -> 'TransitionSummary':
        """Add up the summaries of several scenes.

        Args:
            summaries (Iterable[TransitionSummary]): At least one summary.

        Returns:
            TransitionSummary: Their sum; the pixel area is kept when every
            summary has the same one, else unknown (None).

        Raises:
            ValueError: If no summary is given or the class names disagree.
        """
        summaries = list(summaries)
        if not summaries:
            raise ValueError('no transition summary to merge')
        num = max(s.num_classes for s in summaries)
        longest = max(summaries, key=lambda s: s.num_classes)
        areas = [s.pixel_area_m2 for s in summaries]
        same = None not in areas and bool(
            np.allclose(areas, areas[0], rtol=1e-9, atol=0))
        merged = cls(longest.class_names, areas[0] if same else None)
        merged._grow(num)
        for s in summaries:
            shared = min(len(s.class_names), len(merged.class_names))
            if s.class_names[:shared] != merged.class_names[:shared]:
                raise ValueError('cannot merge transition summaries with '
                                 f'different class names: {s.class_names} '
                                 f'and {merged.class_names}')
            k = s.num_classes
            merged.matrix[:k, :k] += s.matrix
        return merged

    # ------------------------------------------------------------------
    def to_csv(self) -> str:
        """The CSV text (see the module docstring)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator='\n')
        writer.writerow(CSV_COLUMNS)

        def fmt(v: Optional[float]) -> str:
            return '' if v is None else repr(float(v))

        for row in self.rows():
            writer.writerow([
                row['class_from'], row['class_to'], row['name_from'],
                row['name_to'], row['pixels'],
                fmt(row['area_m2']),
                fmt(row['area_ha'])
            ])
        m2 = self.area_m2()
        total_m2 = None if m2 is None else float(m2.sum())
        writer.writerow([
            '', '', 'total', '', self.changed_pixels,
            fmt(total_m2),
            fmt(None if total_m2 is None else total_m2 / 1e4)
        ])
        return buf.getvalue()

    def write_csv(self, path: str) -> str:
        """Write :meth:`to_csv` atomically to ``path``; returns ``path``."""
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        write_bytes(path, self.to_csv().encode('utf-8'))
        return path

    @classmethod
    def read_csv(
            cls,
            path: str,
            class_names: Optional[Sequence[str]] = None
    ) -> 'TransitionSummary':
        """Read a summary written by :meth:`write_csv`.

        Args:
            path (str): The CSV file.
            class_names (Sequence[str], optional): Names of all class
                indices; the CSV only names classes that occur. Defaults to
                None (names from the CSV, ``'class k'`` for the others).

        Returns:
            TransitionSummary: The summary (pixel area recovered from the
            areas when given).

        Raises:
            ValueError: If the file is not such a CSV (names the file).
        """
        with open(path, newline='', encoding='utf-8') as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
                raise ValueError(f'{path}: not a transition summary CSV '
                                 f'(columns {reader.fieldnames}, expected '
                                 f'{list(CSV_COLUMNS)})')
            rows = [r for r in reader if r['class_from'] != '']
        names: Dict[int, str] = {}
        cells = []
        area = None
        try:
            for r in rows:
                i, j, n = (int(r['class_from']), int(r['class_to']),
                           int(r['pixels']))
                names[i], names[j] = r['name_from'], r['name_to']
                cells.append((i, j, n))
                if r['area_m2'] and n:
                    area = float(r['area_m2']) / n
        except ValueError as err:
            raise ValueError(f'{path}: bad transition row: {err}') from None
        num = max([len(class_names or [])] +
                  [max(i, j) + 1 for i, j, _ in cells] + [1])
        all_names = list(class_names) if class_names else [
            names.get(k, default)
            for k, default in enumerate(_default_names(num))
        ]
        summary = cls(all_names, area)
        summary._grow(num)
        for i, j, n in cells:
            summary.matrix[i, j] += n
        return summary

    # ------------------------------------------------------------------
    def to_table(self) -> str:
        """A plain-text table of the non-zero transitions, for a terminal."""
        header = ['from', 'to', 'pixels']
        has_area = self.pixel_area_m2 is not None
        if has_area:
            header += ['m2', 'ha']
        lines = []
        for row in self.rows():
            line = [
                f"{row['class_from']} {row['name_from']}",
                f"{row['class_to']} {row['name_to']}",
                str(row['pixels'])
            ]
            if has_area:
                line += [f"{row['area_m2']:.1f}", f"{row['area_ha']:.4f}"]
            lines.append(line)
        total = ['total', '', str(self.changed_pixels)]
        if has_area:
            m2 = float(self.area_m2().sum())
            total += [f'{m2:.1f}', f'{m2 / 1e4:.4f}']
        lines.append(total)
        widths = [
            max(len(r[k]) for r in [header] + lines)
            for k in range(len(header))
        ]

        def fmt(cells: List[str]) -> str:
            return '  '.join(
                c.ljust(w) if k < 2 else c.rjust(w)
                for k, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = '  '.join('-' * w for w in widths)
        return '\n'.join([fmt(header), rule] + [fmt(r) for r in lines[:-1]] +
                         [rule, fmt(lines[-1])])


def pixel_area_m2(crs: object, transform: object) -> Optional[float]:
    """Area of one pixel in m^2, or None if the CRS is not in metres.

    Args:
        crs (rasterio.crs.CRS, optional): The raster's CRS.
        transform (affine.Affine): Its geotransform.

    Returns:
        float | None: ``|a e - b d|`` times the squared metre factor of the
        CRS's linear unit; None for no CRS or a geographic CRS.
    """
    if crs is None or getattr(crs, 'is_geographic', True):
        return None
    try:
        factor = float(crs.linear_units_factor[1])
    except Exception:  # unknown unit
        return None
    area = abs(transform.a * transform.e - transform.b * transform.d)
    return area * factor * factor


def transitions_from_raster(
        path: str,
        class_names: Optional[Sequence[str]] = None) -> TransitionSummary:
    """Count the transitions of a semantic change GeoTIFF, block by block.

    Reads bands 1 (change), 2 and 3 (classes of dates A and B) of a file
    written by :func:`~mmcd_ext.apis.infer_geotiff` window by window (its
    internal blocks), so memory does not grow with the scene.

    Args:
        path (str): The change GeoTIFF of a semantic change model.
        class_names (Sequence[str], optional): Names of the class indices.
            Defaults to None.

    Returns:
        TransitionSummary: With the pixel area when the CRS is in metres.

    Raises:
        ValueError: If the file has no semantic bands.
    """
    from .geo_writer import OUT_NODATA, require_rasterio
    rasterio = require_rasterio()
    with rasterio.open(path) as ds:
        if ds.count < 3 or not str(ds.descriptions[1]
                                   or '').startswith('semantic'):
            raise ValueError(f'{path} has no semantic change bands (it was '
                             'not written by a semantic change model)')
        summary = TransitionSummary(class_names,
                                    pixel_area_m2(ds.crs, ds.transform))
        for _, window in ds.block_windows(1):
            bands = ds.read([1, 2, 3], window=window)
            valid = (bands != OUT_NODATA).all(axis=0)
            summary.add_maps(bands[1], bands[2], valid, bands[0])
    return summary


def merge_transition_csvs(
        paths: Sequence[str],
        class_names: Optional[Sequence[str]] = None) -> TransitionSummary:
    """Read and add up per-scene CSV files (e.g. on rank 0).

    Args:
        paths (Sequence[str]): CSV files written by
            :meth:`TransitionSummary.write_csv`.
        class_names (Sequence[str], optional): Names of all class indices.
            Defaults to None.

    Returns:
        TransitionSummary: The total.
    """
    return TransitionSummary.merge(
        TransitionSummary.read_csv(p, class_names) for p in paths)
