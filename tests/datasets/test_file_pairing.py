"""pair_folders: the one folder pairing of the datasets, infer and converters.

Every expectation below is written out by hand for a small tree of empty
files (pairing looks at names only).
"""
import os
import os.path as osp

import pytest

from mmcd_ext.apis.folder_pairs import match_folder_pairs
from mmcd_ext.datasets.file_pairing import pair_folders, short_listing


def _touch(root, *names):
    for name in names:
        path = osp.join(root, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write('x')


def test_pairs_unpaired_per_role_and_unused(tmp_path):
    root = str(tmp_path)
    _touch(root, 'A/s1/0001_t1.png', 'A/0002_t1.png', 'A/0003_t1.png',
           'A/notes.txt', 'A/.hidden_t1.png')
    _touch(root, 'B/s1/0001_t2.png', 'B/0002_t2.png', 'B/0004_t2.png',
           'B/0002_t1.png')
    _touch(root, 'L/s1/0001.png', 'L/0003.png', 'L/0004.png')
    sources = dict(
        img_path=(osp.join(root, 'A'), '_t1.png'),
        img_path2=(osp.join(root, 'B'), '_t2.png'),
        seg_map_path=(osp.join(root, 'L'), '.png'))
    found = pair_folders(sources)
    assert found.pairs == {
        's1/0001':
        dict(
            img_path=osp.join(root, 'A', 's1', '0001_t1.png'),
            img_path2=osp.join(root, 'B', 's1', '0001_t2.png'),
            seg_map_path=osp.join(root, 'L', 's1', '0001.png'))
    }
    assert found.unpaired == dict(
        img_path={
            '0002': osp.join(root, 'A', '0002_t1.png'),
            '0003': osp.join(root, 'A', '0003_t1.png')
        },
        img_path2={
            '0002': osp.join(root, 'B', '0002_t2.png'),
            '0004': osp.join(root, 'B', '0004_t2.png')
        },
        seg_map_path={
            '0003': osp.join(root, 'L', '0003.png'),
            '0004': osp.join(root, 'L', '0004.png')
        })
    assert found.num_unpaired == 6
    assert found.missing_roles('0002') == ['seg_map_path']
    assert found.missing_roles('0003') == ['img_path2']
    assert found.missing_roles('0004') == ['img_path']
    assert found.expected_path('img_path2',
                               '0003') == osp.join(root, 'B', '0003_t2.png')
    # other endings are returned as unused; hidden files are not listed
    assert found.unused == dict(
        img_path=[osp.join(root, 'A', 'notes.txt')],
        img_path2=[osp.join(root, 'B', '0002_t1.png')],
        seg_map_path=[])


def test_suffix_is_case_sensitive_and_selects_one_extension(tmp_path):
    root = str(tmp_path)
    _touch(root, 'A/x.png', 'A/x.jpg', 'A/y.PNG', 'B/x.png', 'B/y.png')
    found = pair_folders(
        dict(
            img_path=(osp.join(root, 'A'), '.png'),
            img_path2=(osp.join(root, 'B'), '.png')))
    assert list(found.pairs) == ['x']
    assert found.unpaired['img_path'] == {}
    assert found.unpaired['img_path2'] == {'y': osp.join(root, 'B', 'y.png')}
    assert found.unused['img_path'] == [
        osp.join(root, 'A', 'x.jpg'),
        osp.join(root, 'A', 'y.PNG')
    ]


def test_extensions_with_whole_names(tmp_path):
    root = str(tmp_path)
    # same stem, two extensions: two names, each paired with its own file
    _touch(root, 'A/x.png', 'A/x.jpg', 'A/sub/z.TIF', 'A/readme.txt')
    _touch(root, 'B/x.png', 'B/sub/z.TIF', 'B/w.bmp')
    found = match_folder_pairs(osp.join(root, 'A'), osp.join(root, 'B'))
    assert list(found.pairs) == ['sub/z.TIF', 'x.png']
    assert found.pairs['x.png'] == dict(
        img_path=osp.join(root, 'A', 'x.png'),
        img_path2=osp.join(root, 'B', 'x.png'))
    assert found.unpaired == dict(
        img_path={'x.jpg': osp.join(root, 'A', 'x.jpg')},
        img_path2={'w.bmp': osp.join(root, 'B', 'w.bmp')})
    assert found.unused == dict(
        img_path=[osp.join(root, 'A', 'readme.txt')], img_path2=[])
    # the same call through pair_folders, with other extensions
    only_png = pair_folders(
        dict(
            img_path=(osp.join(root, 'A'), ''),
            img_path2=(osp.join(root, 'B'), '')),
        extensions=['.PNG'])
    assert list(only_png.pairs) == ['x.png']
    assert only_png.num_unpaired == 0
    assert len(only_png.unused['img_path']) == 3


def test_missing_folder_is_named(tmp_path):
    _touch(str(tmp_path), 'A/x.png')
    with pytest.raises(
            FileNotFoundError,
            match='date-B image folder .*nope does not exist'):
        pair_folders(
            dict(
                img_path=(str(tmp_path / 'A'), '.png'),
                img_path2=(str(tmp_path / 'nope'), '.png')))


def test_short_listing():
    assert short_listing(['a', 'b']) == 'a; b'
    assert short_listing([str(i) for i in range(7)]) == \
        '0; 1; 2; 3; 4; ... and 2 more'
