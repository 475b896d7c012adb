"""Seeded synthetic bitemporal scenes for demos, tests and benchmarks.

Two layouts, both deterministic per ``(seed, split, index)``:

* :func:`generate_levir_like` writes binary building change data in LEVIR-CD
  layout (``A``, ``B``, ``label`` 0/255) plus ``pseudo`` masks;
* :func:`generate_second_like` writes semantic change data in SECOND layout
  (``im1``, ``im2``, ``label1``, ``label2`` colour-coded) plus ``pseudo``
  masks.

:func:`make_levir_like_sample` and :func:`make_second_like_sample` return one
sample as arrays. Only numpy and OpenCV are used. See
``docs/synthetic_data.md``.
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
