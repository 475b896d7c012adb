import numpy as np
import pytest

from mmcd_ext.datasets.palettes import (LANDSAT_SCD_CLASSES,
                                        LANDSAT_SCD_PALETTE, SECOND_CLASSES,
                                        SECOND_PALETTE, check_palette,
                                        colour_to_index, index_to_colour)


def test_palettes_match_the_method_brief():
    # METHODS.md section 3 "Data", in that order
    assert SECOND_CLASSES[0] == 'unchanged' and len(SECOND_CLASSES) == 7
    assert SECOND_PALETTE == [[255, 255, 255], [0, 0, 255], [128, 128, 128],
                              [0, 128, 0], [0, 255, 0], [128, 0, 0],
                              [255, 0, 0]]
    assert LANDSAT_SCD_CLASSES == ('no change', 'farmland', 'desert',
                                   'building', 'water')
    assert LANDSAT_SCD_PALETTE == [[255, 255, 255], [0, 155, 0], [255, 165, 0],
                                   [230, 30, 100], [0, 170, 240]]


def test_colour_to_index_hand_made():
    palette = [[255, 255, 255], [0, 155, 0], [255, 165, 0]]
    rgb = np.array(
        [[[0, 155, 0], [255, 255, 255]], [[255, 165, 0], [0, 155, 0]]],
        np.uint8)
    idx = colour_to_index(rgb, palette)
    assert idx.dtype == np.uint8
    assert idx.tolist() == [[1, 0], [2, 1]]


def test_colour_to_index_reports_unknown_colours():
    rgb = np.full((4, 4, 3), 255, np.uint8)
    rgb[0, :3] = (1, 2, 3)
    rgb[1, 0] = (9, 9, 9)
    with pytest.raises(ValueError) as err:
        colour_to_index(rgb, SECOND_PALETTE, filename='lbl.png')
    msg = str(err.value)
    assert msg.startswith('lbl.png: 4 pixel(s)')
    # most frequent first
    assert msg.index('(1, 2, 3): 3 px') < msg.index('(9, 9, 9): 1 px')


def test_colour_to_index_shape_and_dtype():
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        colour_to_index(np.zeros((4, 4), np.uint8), SECOND_PALETTE)
    with pytest.raises(ValueError, match='8-bit'):
        colour_to_index(np.zeros((4, 4, 3), np.uint16), SECOND_PALETTE)


def test_round_trip_and_ignore():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 7, (8, 8)).astype(np.uint8)
    rgb = index_to_colour(idx, SECOND_PALETTE)
    assert np.array_equal(rgb[0, 0], SECOND_PALETTE[idx[0, 0]])
    assert np.array_equal(colour_to_index(rgb, SECOND_PALETTE), idx)
    idx[0, 0] = 255
    assert index_to_colour(
        idx, SECOND_PALETTE, ignore_colour=(1, 2, 3))[0,
                                                      0].tolist() == [1, 2, 3]
    idx[0, 0] = 9
    with pytest.raises(ValueError, match=r'\[9\]'):
        index_to_colour(idx, SECOND_PALETTE)


def test_check_palette():
    assert check_palette(SECOND_PALETTE).shape == (7, 3)
    for bad in ([], [[0, 0]], [[0, 0, 256]], [[1, 2, 3], [1, 2, 3]]):
        with pytest.raises(ValueError):
            check_palette(bad)
