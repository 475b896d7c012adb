"""Install mmcd_ext: ``pip install -e .`` (``-e .[geo]`` adds rasterio).

The tested stack is pinned in ``requirements/ci.txt``; ``make test`` and
``make demo`` build the virtual environment with
``tools/misc/install_env.sh``, which also installs mmcv with compiled ops.
"""
import os.path as osp
import re
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    """Read one requirements file, dropping comments and blank lines."""
    reqs = []
    with open(osp.join(HERE, 'requirements', name)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                reqs.append(line)
    return reqs


def read_version() -> str:
    with open(osp.join(HERE, 'mmcd_ext', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


setup(
    name='mmcd_ext',
    version=read_version(),
    description='OpenMMLab plugin for remote-sensing change detection '
    '(TTP, FrNet, LSAFNet, DeepCL)',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(
        osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    install_requires=read_requirements('runtime.txt'),
    extras_require=dict(
        geo=['rasterio>=1.3'],
        sam=['segment-anything>=1.0'],
        tests=read_requirements('tests.txt'),
    ),
    license='Apache License 2.0',
    zip_safe=False,
)
