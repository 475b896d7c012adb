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
