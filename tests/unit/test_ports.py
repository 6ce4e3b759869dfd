"""Port facts from the kernel's tables: only LISTEN sockets count, owners found by fd scan."""

from __future__ import annotations

import os
import socket

import pytest

from corral import oslayer


def test_a_listener_is_seen_with_its_owner_and_a_client_is_not() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            with accepted:
                found = oslayer.listeners([port])
                assert [(item.port, item.address) for item in found] == [(port, "127.0.0.1")]
                assert oslayer.socket_holders([found[0].inode]) == {found[0].inode: {os.getpid()}}
                client_port = client.getsockname()[1]
                assert oslayer.listeners([client_port]) == []
                assert not oslayer.port_is_free(port)


def test_port_is_free_after_close_even_with_time_wait() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.close()
    server.close()
    assert oslayer.port_is_free(port)


def test_an_ipv6_wildcard_listener_blocks_the_port() -> None:
    with socket.socket(socket.AF_INET6) as server:
        server.bind(("::", 0))
        server.listen()
        port = server.getsockname()[1]
        assert [item.address for item in oslayer.listeners([port])] == ["::"]
        assert not oslayer.port_is_free(port)


def test_a_port_bound_on_another_local_address_is_not_free() -> None:
    """Not listening, so in no listener table, and not on 127.0.0.1: only the bind probe on
    every address (what a server binding 0.0.0.0 needs) sees it. BSD also needs that probe
    for a ``*:port`` listener it cannot list."""
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.2", 0))
        except OSError:  # macOS configures only 127.0.0.1 on lo0
            pytest.skip("127.0.0.2 is not a local address here")
        port = holder.getsockname()[1]
        assert oslayer.listeners([port]) == []
        assert not oslayer.port_is_free(port)
    assert oslayer.port_is_free(port)


@pytest.mark.parametrize(
    ("family", "address", "listen"),
    [
        (socket.AF_INET, "127.0.0.1", False),
        (socket.AF_INET, "127.0.0.1", True),
        (socket.AF_INET6, "::1", False),
        (socket.AF_INET6, "::1", True),
    ],
)
def test_a_loopback_socket_is_seen_by_the_bind_probes_alone(family, address, listen) -> None:  # type: ignore[no-untyped-def]
    """With no listener dump to go by (an empty one is passed), the probes must still see a
    socket bound or listening on loopback: on Linux through the wildcard probes alone."""
    try:
        holder = socket.socket(family)
        holder.bind((address, 0))
    except OSError:
        pytest.skip(f"no {address} here")
    with holder:
        if listen:
            holder.listen()
        port = holder.getsockname()[1]
        assert not oslayer.port_is_free(port, listening=[])
    assert oslayer.port_is_free(port, listening=[])


def test_socket_states_name_a_port_held_by_a_closing_connection() -> None:
    """What a stop reports for a port no process listens on but the kernel still holds
    (issue "trust nothing on disk", item 19: it said "unknown holder")."""
    import socket as sockets

    from corral.cli.cmd_services import _holders
    from corral.ports import socket_states

    server = sockets.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = sockets.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    states = socket_states(port)
    assert states.get("TIME_WAIT", 0) >= 1, states
    text = _holders([], states)
    assert "no process listens" in text and "TIME_WAIT" in text and "60 s" in text
