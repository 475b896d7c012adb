"""Test-wide fixtures: no network, registered modules, seeded RNGs."""
import socket

import numpy as np
import pytest
import torch


class _NoNetwork(socket.socket):

    def connect(self, address):  # noqa: D102
        if isinstance(
                address,
                tuple) and address[0] not in ('127.0.0.1', 'localhost', '::1'):
            raise RuntimeError(
                f'tests must not use the network (tried {address})')
        return super().connect(address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Any outbound connection in a test fails loudly."""
    monkeypatch.setattr(socket, 'socket', _NoNetwork)


@pytest.fixture(autouse=True, scope='session')
def _register_modules():
    from mmcd_ext.utils import register_all_modules
    register_all_modules(init_default_scope=True)


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def tiny_levir_root(tmp_path_factory):
    """A tiny synthetic LEVIR-layout data set (4/2/2 pairs of 64 px, seed 0),
    shared by the end-to-end tests; read it, never write into it."""
    from mmcd_ext.datasets.synthetic import generate_levir_like
    root = tmp_path_factory.mktemp('tiny_levir')
    generate_levir_like(
        str(root),
        num_train=4,
        num_val=2,
        num_test=2,
        size=64,
        seed=0,
        overwrite=True)
    return str(root)


@pytest.fixture(scope='session')
def tiny_second_root(tmp_path_factory):
    """The SECOND-layout counterpart of :func:`tiny_levir_root`."""
    from mmcd_ext.datasets.synthetic import generate_second_like
    root = tmp_path_factory.mktemp('tiny_second')
    generate_second_like(
        str(root),
        num_train=4,
        num_val=2,
        num_test=2,
        size=64,
        seed=0,
        overwrite=True)
    return str(root)
