"""Seeded synthetic bitemporal scenes: a test and demo data generator.

This subpackage is not part of the runtime a user trains with: nothing in
``mmcd_ext`` imports it (``mmcd_ext.datasets`` does not), no registry holds
its names, and a model or config never needs it. It writes the data of the
demo (``tools/demo/run_demo.py``), the fixtures of the end-to-end tests and
the synthetic benchmarks (DeepCL's pseudo-change evidence among them). It
lives inside the package rather than in a top-level folder so that
``tools/misc/make_synthetic_data.py`` (run by the demo and the benchmarks)
and the tests import it the same way from a source checkout and from an
installed copy, without ``sys.path`` changes. See ``docs/synthetic_data.md``.

Two layouts, both deterministic per ``(seed, split, index)``:

* :func:`generate_levir_like` writes binary building change data in LEVIR-CD
  layout (``A``, ``B``, ``label`` 0/255) plus ``pseudo`` masks;
* :func:`generate_second_like` writes semantic change data in SECOND layout
  (``im1``, ``im2``, ``label1``, ``label2`` colour-coded) plus ``pseudo``
  masks.

:func:`make_levir_like_sample` and :func:`make_second_like_sample` return one
sample as arrays. The drawing uses only numpy and OpenCV; the one import
from the runtime is the class palettes (``mmcd_ext.datasets.palettes``),
although importing the subpackage still runs ``mmcd_ext/__init__.py``
(torch and mmseg are loaded).

Modules:

* ``common``: seeds, noise fields, geometry and file helpers;
* ``buildings``, ``render``, ``placement``: roofs and shadows, ground,
  vegetation, roads and cars, collision-free placement;
* ``pseudo_changes``: acquisition conditions per date and the
  pseudo-changes (season, fields, cars, shadows, misregistration);
* ``levir_like``, ``second_like``: the two scene types (``second_like``
  draws its change events from the table ``CHANGE_EVENTS``, one function
  per event);
* ``writer``: the data-set writer shared by both layouts (splits,
  ``meta.json``).
"""
from .common import sample_seed
from .levir_like import (LEVIR_FOLDERS, LevirSceneParams, generate_levir_like,
                         make_levir_like_sample)
from .pseudo_changes import DateConditions, PseudoChangeParams
from .second_like import (SECOND_FOLDERS, SecondSceneParams,
                          generate_second_like, make_second_like_sample)

__all__ = [
    'DateConditions', 'LEVIR_FOLDERS', 'LevirSceneParams',
    'PseudoChangeParams', 'SECOND_FOLDERS', 'SecondSceneParams',
    'generate_levir_like', 'generate_second_like', 'make_levir_like_sample',
    'make_second_like_sample', 'sample_seed'
]
