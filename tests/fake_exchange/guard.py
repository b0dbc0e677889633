"""A safety net for exchange tests: any attempt to resolve a host other than loopback fails
the test (the fake exchange is reached by IP, so nothing legitimate resolves names)."""

from __future__ import annotations

import socket

import pytest

LOOPBACK = {None, "127.0.0.1", "localhost", "::1", b"127.0.0.1", b"localhost"}


@pytest.fixture
def no_foreign_hosts(monkeypatch):
    real = socket.getaddrinfo
    tried: list = []

    def guarded(host, *args, **kwargs):
        if host not in LOOPBACK:
            tried.append(host)
            raise OSError(f"test tried to reach {host!r}; only 127.0.0.1 is allowed")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield
    assert not tried, f"code under test tried to reach {tried}"
