"""mmcd_ext.utils.atomic_files: atomic bytes/text/image writes and the
output-file check of the converters."""
import hashlib
import os

import cv2
import numpy as np
import pytest

from mmcd_ext.utils.atomic_files import (check_output_file, write_image,
                                         write_text)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_write_image_format_from_suffix_and_exact_pixels(tmp_path):
    img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    write_image(str(tmp_path / 'a.png'), img)
    assert np.array_equal(
        cv2.imread(str(tmp_path / 'a.png'), cv2.IMREAD_UNCHANGED), img)
    write_image(str(tmp_path / 'a.tif'), img[..., 0])
    assert (tmp_path / 'a.tif').read_bytes()[:2] in (b'II', b'MM')
    assert sorted(os.listdir(tmp_path)) == ['a.png', 'a.tif']
    with pytest.raises(ValueError, match='no suffix'):
        write_image(str(tmp_path / 'noext'), img)
    with pytest.raises(ValueError, match=r'cannot encode .*a\.xyz'):
        write_image(str(tmp_path / 'a.xyz'), img)
    assert sorted(os.listdir(tmp_path)) == ['a.png', 'a.tif']


@pytest.mark.parametrize('exc', [OSError, KeyboardInterrupt])
def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch, exc):
    dst = tmp_path / 'meta.json'
    write_text(str(dst), '{"old": 1}\n')
    before = _sha(dst)

    def crash(fd: int) -> None:  # data written, not yet renamed
        raise exc('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(exc):
        write_text(str(dst), '{"new": 2}\n' * 1000)
    monkeypatch.undo()
    assert _sha(dst) == before
    assert os.listdir(tmp_path) == ['meta.json']  # no temporary left
    write_text(str(dst), 'new')
    assert dst.read_text() == 'new'


def test_check_output_file(tmp_path):
    src = tmp_path / 'in.pth'
    src.write_bytes(b'weights')
    check_output_file(str(tmp_path / 'new.pth'), [str(src)], False)
    os.symlink(src, tmp_path / 'soft.pth')
    os.link(src, tmp_path / 'hard.pth')
    for dst in (src, tmp_path / 'soft.pth', tmp_path / 'hard.pth',
                tmp_path / '.' / 'in.pth'):
        with pytest.raises(ValueError, match='is the input'):
            check_output_file(str(dst), [str(src)], True)
    other = tmp_path / 'out.pth'
    other.write_bytes(b'mine')
    with pytest.raises(FileExistsError, match='exists; pass --overwrite'):
        check_output_file(str(other), [str(src)], False)
    check_output_file(str(other), [str(src)], True)
    with pytest.raises(FileExistsError, match='is a folder'):
        check_output_file(str(tmp_path), [str(src)], True)
    # URLs are not local inputs
    check_output_file(str(tmp_path / 'x.pth'), ['https://x/in.pth'], False)
