"""OutputPlan: outputs never replace inputs, each other or existing files."""
import os

import pytest

from mmcd_ext.apis.output_plan import OutputPathError, OutputPlan


@pytest.fixture
def tree(tmp_path):
    for folder in ('A', 'B', 'out'):
        (tmp_path / folder).mkdir()
    (tmp_path / 'A' / '1.png').write_bytes(b'a')
    (tmp_path / 'B' / '1.png').write_bytes(b'b')
    return tmp_path


def plan_for(tree, **kwargs):
    return OutputPlan([str(tree / 'A' / '1.png'),
                       str(tree / 'B' / '1.png')],
                      input_dirs=[str(tree / 'A'),
                                  str(tree / 'B')],
                      **kwargs)


def test_fresh_outputs_are_accepted(tree):
    plan = plan_for(tree)
    first = plan.add(str(tree / 'out' / '1.png'), 'A/1.png')
    plan.add(str(tree / 'out' / '1_prob.png'), 'A/1.png')
    assert first == str(tree / 'out' / '1.png')
    assert plan.paths == [
        str(tree / 'out' / '1.png'),
        str(tree / 'out' / '1_prob.png')
    ]


def test_an_output_never_resolves_to_an_input(tree):
    plan = plan_for(tree, overwrite=True)
    (tree / 'link').symlink_to(tree / 'B')
    with pytest.raises(OutputPathError, match='would overwrite the input'):
        plan.add(str(tree / 'link' / '1.png'), 'A/1.png')
    with pytest.raises(OutputPathError, match='into the input folder'):
        plan.add(str(tree / 'A' / '1_change.png'), 'A/1.png')


def test_two_outputs_never_share_a_file(tree):
    plan = plan_for(tree)
    plan.add(str(tree / 'out' / 'x.png'), 'A/x.png')
    with pytest.raises(
            OutputPathError,
            match='A/x.jpg and A/x.png would both be written'):
        plan.add(str(tree / 'out' / '.' / 'x.png'), 'A/x.jpg')


def test_existing_files_need_overwrite(tree):
    old = tree / 'out' / '1.png'
    old.write_bytes(b'earlier result')
    with pytest.raises(OutputPathError, match='exists; pass --overwrite'):
        plan_for(tree).add(str(old), 'A/1.png')
    assert old.read_bytes() == b'earlier result'
    assert plan_for(tree, overwrite=True).add(str(old), 'A/1.png')
    os.mkdir(tree / 'out' / 'dir.png')
    with pytest.raises(OutputPathError, match='is an existing folder'):
        plan_for(tree, overwrite=True).add(str(tree / 'out' / 'dir.png'), 'x')
