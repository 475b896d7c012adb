"""Loading of bitemporal images and change labels, including bad input."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmcd_ext.datasets.palettes import LANDSAT_SCD_PALETTE, SECOND_PALETTE
from mmcd_ext.datasets.transforms import (LoadBitemporalImages,
                                          LoadCDAnnotations,
                                          LoadSCDAnnotations)


def _png(path, arr):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, arr)
    return path


def _rgb(path, rgb):
    return _png(path, np.ascontiguousarray(rgb[..., ::-1]))


def _images(tmp_path, rng, size_a=(32, 40), size_b=(32, 40)):
    a = rng.integers(0, 256, (*size_a, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (*size_b, 3), dtype=np.uint8)
    pa = _png(str(tmp_path / 'A' / 'x.png'), a)
    pb = _png(str(tmp_path / 'B' / 'x.png'), b)
    return dict(img_path=pa, img_path2=pb, seg_fields=[]), a, b


# ----------------------------------------------------------------- images
def test_load_bitemporal_images(tmp_path, rng):
    res, a, b = _images(tmp_path, rng)
    out = LoadBitemporalImages()(res)
    assert out['img'].shape == (32, 40, 6) and out['img'].dtype == np.uint8
    # reference: OpenCV reading each file
    assert np.array_equal(out['img'][..., :3], cv2.imread(res['img_path']))
    assert np.array_equal(out['img'][..., 3:], cv2.imread(res['img_path2']))
    assert out['img_shape'] == (32, 40) == out['ori_shape']

    out = LoadBitemporalImages(
        to_float32=True, color_type='grayscale')(
            dict(img_path=res['img_path'], img_path2=res['img_path2']))
    assert out['img'].shape == (32, 40, 2) and out['img'].dtype == np.float32
    ref = cv2.imread(res['img_path'], cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(out['img'][..., 0], ref)


def test_load_images_size_mismatch_names_both_files(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng, size_b=(32, 48))
    with pytest.raises(ValueError) as err:
        LoadBitemporalImages()(res)
    assert res['img_path'] in str(err.value)
    assert res['img_path2'] in str(err.value)


def test_load_images_unreadable_and_missing(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng)
    with open(res['img_path2'], 'wb') as f:
        f.write(b'this is not a png')
    with pytest.raises(ValueError, match=f'cannot decode.*{res["img_path2"]}'):
        LoadBitemporalImages()(dict(res))
    res['img_path2'] = str(tmp_path / 'B' / 'gone.png')
    with pytest.raises(FileNotFoundError, match='gone.png'):
        LoadBitemporalImages()(dict(res))
    with pytest.raises(ValueError, match='color_type'):
        LoadBitemporalImages(color_type='rainbow')


# ------------------------------------------------------------ CD labels
def _cd_label(tmp_path, label, name='x.png'):
    return _png(str(tmp_path / 'label' / name), label)


def test_load_cd_0_255(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng)
    label = (rng.random((32, 40)) < 0.5).astype(np.uint8)
    res['seg_map_path'] = _cd_label(tmp_path, label * 255)
    res['label_encoding'] = '0/255'
    out = LoadCDAnnotations()(LoadBitemporalImages()(res))
    assert out['gt_seg_map'].dtype == np.uint8
    assert np.array_equal(out['gt_seg_map'], label)
    assert out['seg_fields'] == ['gt_seg_map']


def test_load_cd_0_1_keeps_ignore(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng)
    label = rng.choice(np.array([0, 1, 255], np.uint8), size=(32, 40))
    res['seg_map_path'] = _cd_label(tmp_path, label)
    out = LoadCDAnnotations(label_encoding='0/1')(LoadBitemporalImages()(res))
    assert np.array_equal(out['gt_seg_map'], label)


def test_load_cd_0_1_refuses_a_0_255_label(tmp_path, rng):
    # label_encoding='0/1' on a 0/255 label would make every changed pixel
    # an ignored one and score F1 0 silently.
    res, _, _ = _images(tmp_path, rng)
    label = (rng.random((32, 40)) < 0.3).astype(np.uint8) * 255
    res['seg_map_path'] = _cd_label(tmp_path, label)
    loaded = LoadBitemporalImages()(res)
    with pytest.raises(ValueError) as err:
        LoadCDAnnotations('0/1')(dict(loaded))
    msg = str(err.value)
    assert res['seg_map_path'] in msg and '[0, 255]' in msg
    assert 'label_encoding="0/255"' in msg
    assert LoadCDAnnotations('0/255')(dict(loaded))['gt_seg_map'].max() == 1


def test_load_cd_grey_saved_as_rgb(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng)
    label = (rng.random((32, 40)) < 0.5).astype(np.uint8) * 255
    res['seg_map_path'] = _cd_label(tmp_path, np.stack([label] * 3, 2))
    out = LoadCDAnnotations('0/255')(LoadBitemporalImages()(res))
    assert np.array_equal(out['gt_seg_map'], label // 255)
    colour = np.stack([label, label, 255 - label], 2)
    res['seg_map_path'] = _cd_label(tmp_path, colour, 'c.png')
    with pytest.raises(ValueError, match='c.png.*single-channel'):
        LoadCDAnnotations('0/255')(LoadBitemporalImages()(res))


def test_load_cd_values_outside_encoding(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng)
    label = np.zeros((32, 40), np.uint8)
    label[0, :3] = [255, 1, 128]
    res['seg_map_path'] = _cd_label(tmp_path, label)
    loaded = LoadBitemporalImages()(res)
    with pytest.raises(ValueError) as err:
        LoadCDAnnotations('0/255')(dict(loaded))
    assert res['seg_map_path'] in str(err.value)
    assert '[1, 128]' in str(err.value)
    with pytest.raises(ValueError, match=r'\[128\]'):
        LoadCDAnnotations('0/1')(dict(loaded))


def test_load_cd_label_size_must_match(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng)
    res['seg_map_path'] = _cd_label(tmp_path, np.zeros((16, 40), np.uint8))
    with pytest.raises(ValueError, match='x.png is 16x40'):
        LoadCDAnnotations('0/255')(LoadBitemporalImages()(res))


def test_load_cd_encoding_resolution(tmp_path, rng):
    res, _, _ = _images(tmp_path, rng)
    res['seg_map_path'] = _cd_label(tmp_path, np.zeros((32, 40), np.uint8))
    loaded = LoadBitemporalImages()(res)
    with pytest.raises(KeyError, match='label_encoding'):
        LoadCDAnnotations()(dict(loaded))
    with pytest.raises(ValueError, match='disagrees'):
        LoadCDAnnotations('0/1')(dict(loaded, label_encoding='0/255'))
    with pytest.raises(ValueError, match='label_encoding'):
        LoadCDAnnotations('0-255')
    with pytest.raises(ValueError, match='reduce_zero_label'):
        LoadCDAnnotations('0/255')(dict(loaded, reduce_zero_label=True))
    unloaded = dict(seg_map_path=res['seg_map_path'], seg_fields=[])
    with pytest.raises(KeyError, match='after LoadBitemporalImages'):
        LoadCDAnnotations('0/255')(unloaded)


# ----------------------------------------------------------- SCD labels
def _scd_sample(tmp_path, rng, palette, colour=True, sem_a=None, sem_b=None):
    res, _, _ = _images(tmp_path, rng, (32, 32), (32, 32))
    k = len(palette)
    if sem_a is None:
        change = rng.random((32, 32)) < 0.5
        sem_a = np.where(change, rng.integers(1, k, (32, 32)), 0)
        sem_b = np.where(change, rng.integers(1, k, (32, 32)), 0)
    pal = np.asarray(palette, np.uint8)
    for key, folder, sem in (('seg_map_path_a', 'label1', sem_a),
                             ('seg_map_path_b', 'label2', sem_b)):
        path = str(tmp_path / folder / 'x.png')
        if colour:
            _rgb(path, pal[sem])
        else:
            _png(path, sem.astype(np.uint8))
        res[key] = path
    res['label_palette'] = [list(c) for c in palette]
    return LoadBitemporalImages()(res), sem_a.astype(np.uint8), \
        sem_b.astype(np.uint8)


@pytest.mark.parametrize('palette', [SECOND_PALETTE, LANDSAT_SCD_PALETTE])
@pytest.mark.parametrize('colour', [True, False])
def test_load_scd(tmp_path, rng, palette, colour):
    res, sem_a, sem_b = _scd_sample(tmp_path, rng, palette, colour)
    out = LoadSCDAnnotations()(res)
    assert np.array_equal(out['gt_seg_map_a'], sem_a)
    assert np.array_equal(out['gt_seg_map_b'], sem_b)
    assert np.array_equal(out['gt_seg_map'], (sem_a != 0).astype(np.uint8))
    assert sorted(
        out['seg_fields']) == ['gt_seg_map', 'gt_seg_map_a', 'gt_seg_map_b']


def test_load_scd_hand_made_colours(tmp_path, rng):
    # 2x3 SECOND label: white=0 water=1 ground=2 / low-veg=3 tree=4 bldg=5
    rgb_a = np.array([[[255, 255, 255], [0, 0, 255], [128, 128, 128]],
                      [[0, 128, 0], [0, 255, 0], [128, 0, 0]]], np.uint8)
    rgb_b = np.array([[[255, 255, 255], [255, 0, 0], [255, 0, 0]],
                      [[0, 0, 255], [0, 0, 255], [0, 0, 255]]], np.uint8)
    res = dict(
        img_shape=(2, 3),
        img_path='a',
        img_path2='b',
        seg_fields=[],
        label_palette=SECOND_PALETTE)
    res['seg_map_path_a'] = _rgb(str(tmp_path / 'l1.png'), rgb_a)
    res['seg_map_path_b'] = _rgb(str(tmp_path / 'l2.png'), rgb_b)
    out = LoadSCDAnnotations()(res)
    assert out['gt_seg_map_a'].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out['gt_seg_map_b'].tolist() == [[0, 6, 6], [1, 1, 1]]
    assert out['gt_seg_map'].tolist() == [[0, 1, 1], [1, 1, 1]]


def test_load_scd_unknown_colour(tmp_path, rng):
    res, sem_a, sem_b = _scd_sample(tmp_path, rng, SECOND_PALETTE)
    rgb = np.asarray(SECOND_PALETTE, np.uint8)[sem_a]
    rgb[:2, :5] = (12, 34, 56)  # 10 pixels of an unknown colour
    _rgb(res['seg_map_path_a'], rgb)
    with pytest.raises(ValueError) as err:
        LoadSCDAnnotations()(res)
    msg = str(err.value)
    assert res['seg_map_path_a'] in msg
    assert '(12, 34, 56): 10 px' in msg


def test_load_scd_index_values_validated(tmp_path, rng):
    sem = np.zeros((32, 32), np.int64)
    sem[0, 0], sem[0, 1] = 7, 255  # 7 is no SECOND class, 255 is ignore
    res, _, _ = _scd_sample(tmp_path, rng, SECOND_PALETTE, False, sem, sem)
    with pytest.raises(ValueError, match=r'label1/x.png has values \[7\]'):
        LoadSCDAnnotations()(res)


def test_load_scd_ignore_index(tmp_path, rng):
    sem_a = np.ones((32, 32), np.int64)
    sem_b = np.full((32, 32), 2)
    sem_a[0, 0] = 255
    sem_b[0, 0] = 0  # ignored in A: no disagreement can be claimed
    res, _, _ = _scd_sample(tmp_path, rng, SECOND_PALETTE, False, sem_a, sem_b)
    out = LoadSCDAnnotations()(res)
    assert out['gt_seg_map'][0, 0] == 255
    assert (out['gt_seg_map'] == 1).sum() == 32 * 32 - 1


def test_load_scd_disagreement_names_both_files(tmp_path, rng):
    sem_a = np.zeros((32, 32), np.int64)
    sem_b = np.zeros((32, 32), np.int64)
    sem_b[3, 5] = 2
    res, _, _ = _scd_sample(tmp_path, rng, SECOND_PALETTE, True, sem_a, sem_b)
    with pytest.raises(ValueError) as err:
        LoadSCDAnnotations()(res)
    msg = str(err.value)
    assert res['seg_map_path_a'] in msg and res['seg_map_path_b'] in msg
    assert '1 pixel(s), first at row 3, col 5' in msg


def test_load_scd_size_and_palette_errors(tmp_path, rng):
    res, sem_a, _ = _scd_sample(tmp_path, rng, SECOND_PALETTE, False)
    _png(res['seg_map_path_b'], np.zeros((32, 16), np.uint8))
    with pytest.raises(ValueError, match='label2/x.png is 32x16'):
        LoadSCDAnnotations()(dict(res))
    with pytest.raises(ValueError, match='disagrees'):
        LoadSCDAnnotations(palette=LANDSAT_SCD_PALETTE)(dict(res))
    res.pop('label_palette')
    with pytest.raises(KeyError, match='no palette'):
        LoadSCDAnnotations()(dict(res))
    with pytest.raises(ValueError, match='repeats'):
        LoadSCDAnnotations(palette=[[0, 0, 0], [0, 0, 0]])
    rgba = np.zeros((32, 32, 4), np.uint8)
    _png(res['seg_map_path_b'], rgba)
    with pytest.raises(ValueError, match='4 channels'):
        LoadSCDAnnotations(palette=SECOND_PALETTE)(dict(res))
    assert osp.isfile(res['seg_map_path_a'])


@pytest.mark.parametrize('kind', ['fifo', 'folder'])
def test_non_regular_image_file_is_refused_without_blocking(
        tmp_path, rng, kind):
    # Opening a FIFO blocks until a writer comes: it must be refused from
    # its stat, before any read (the test would hang otherwise).
    res, _, _ = _images(tmp_path, rng)
    bad = tmp_path / 'B' / 'pipe.png'
    bad.parent.mkdir(exist_ok=True)
    if kind == 'fifo':
        os.mkfifo(bad)
    else:
        bad.mkdir()
    res['img_path2'] = str(bad)
    expected = 'a FIFO' if kind == 'fifo' else 'a folder'
    with pytest.raises(ValueError, match=f'pipe.png: it is {expected}'):
        LoadBitemporalImages()(res)
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadBitemporalImages()(dict(res, img_path2=str(tmp_path / 'nope.png')))


def test_colour_loading_converts_nothing_silently(tmp_path, rng):
    """color_type='color' used to let cv2 cut 16-bit data to 8 bits, drop
    alpha and pair a grey date with a colour one without a word."""
    grey_a = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    grey_b = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    colour = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    pa = _png(str(tmp_path / 'A' / 'g.png'), grey_a)
    pb = _png(str(tmp_path / 'B' / 'g.png'), grey_b)
    pc = _png(str(tmp_path / 'B' / 'c.png'), colour)
    # both grey: 3 identical channels per date, as cv2's colour reading
    out = LoadBitemporalImages()(dict(img_path=pa, img_path2=pb))
    assert np.array_equal(out['img'][..., :3], cv2.imread(pa))
    assert np.array_equal(out['img'][..., 3:], np.stack([grey_b] * 3, 2))
    # grey next to colour: refused, naming both files
    with pytest.raises(
            ValueError,
            match='g.png is a grey image but its '
            'partner .*c.png is in colour'):
        LoadBitemporalImages()(dict(img_path=pa, img_path2=pc))
    # 16-bit: refused under 'color', kept under 'unchanged'
    deep = rng.integers(0, 65536, (32, 40, 3), dtype=np.uint16)
    pd_a = _png(str(tmp_path / 'A' / 'd.png'), deep)
    pd_b = _png(str(tmp_path / 'B' / 'd.png'), deep)
    with pytest.raises(ValueError, match='d.png is uint16.*8 bits'):
        LoadBitemporalImages()(dict(img_path=pd_a, img_path2=pd_b))
    kept = LoadBitemporalImages(color_type='unchanged')(
        dict(img_path=pd_a, img_path2=pd_b))
    assert kept['img'].dtype == np.uint16
    assert np.array_equal(kept['img'][..., :3], deep)
    # an opaque alpha channel is dropped, a real one refused
    rgba = np.concatenate([colour, np.full((32, 40, 1), 255, np.uint8)], 2)
    po = _png(str(tmp_path / 'A' / 'o.png'), rgba)
    out = LoadBitemporalImages()(dict(img_path=po, img_path2=pc))
    assert np.array_equal(out['img'][..., :3], colour)
    rgba[0, 0, 3] = 10
    pt = _png(str(tmp_path / 'A' / 't.png'), rgba)
    with pytest.raises(ValueError, match='t.png has a non-opaque alpha'):
        LoadBitemporalImages()(dict(img_path=pt, img_path2=pc))
