"""Listening TCP sockets from the kernel's own tables: NETLINK_SOCK_DIAG (what ``ss`` uses), with
/proc/net/tcp{,6} as the fallback. No lsof, no root: the kernel tells any user the port, the
owning uid and the socket inode; mapping the inode to a pid is an fd scan (``socket_holders``)."""

from __future__ import annotations

import _socket
import contextlib
import errno
import functools
import ipaddress
import socket
import struct
from collections.abc import Iterable

from corral.oslayer.common import Listener

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_REQUEST = struct.Struct("=BBBBI48s")  # inet_diag_req_v2 (sockid left zero: dump all)
_MESSAGE = struct.Struct("=BBBB2s2s16s16sI8sIIIII")  # inet_diag_msg


def listeners(ports: Iterable[int] | None = None) -> list[Listener]:
    """TCP sockets in LISTEN state (v4 and v6), optionally only on ``ports``."""
    wanted = set(ports) if ports is not None else None
    try:
        found = [*_dump(socket.AF_INET), *_dump(socket.AF_INET6)]
    except OSError:
        found = _from_proc()
    return [item for item in found if wanted is None or item.port in wanted]


def _dump(family: int) -> list[Listener]:
    request = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN, b"")
    header = _HEADER.pack(
        _HEADER.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
    )
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(2.0)
        sock.sendto(header + request, (0, 0))
        return list(_read_replies(sock, family))


def _read_replies(sock: socket.socket, family: int) -> Iterable[Listener]:
    while True:
        data = sock.recv(65536)
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _flags, _seq, _pid = _HEADER.unpack_from(data, offset)
            if kind == NLMSG_DONE:
                return
            if kind == NLMSG_ERROR:
                raise OSError("inet_diag request failed")
            yield _parse(data[offset + _HEADER.size : offset + length], family)
            offset += (length + 3) & ~3
        if not data:
            return


def _parse(payload: bytes, family: int) -> Listener:
    fields = _MESSAGE.unpack_from(payload)
    port = struct.unpack(">H", fields[4])[0]
    raw = fields[6][:4] if family == socket.AF_INET else fields[6]
    address = str(ipaddress.ip_address(raw))
    return Listener(port=port, address=address, family=family, uid=fields[13], inode=fields[14])


def _from_proc() -> list[Listener]:
    found = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(f"/proc/net/{name}") as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":
                continue
            hex_address, hex_port = fields[1].split(":")
            found.append(
                Listener(
                    int(hex_port, 16),
                    _proc_address(hex_address, family),
                    family,
                    int(fields[7]),
                    int(fields[9]),
                )
            )
    return found


def _proc_address(text: str, family: int) -> str:
    raw = bytes.fromhex(text)
    # /proc/net prints each 32-bit word in host byte order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words if family == socket.AF_INET6 else words[:4]))


@functools.cache
def inet_diag_works() -> bool:
    try:
        _dump(socket.AF_INET)
    except OSError:
        return False
    return True


def port_is_free(port: int, listening: Iterable[Listener] | None = None) -> bool:
    """No LISTEN socket on ``port``, and a server could bind it now on IPv4 and IPv6.

    The bind probe uses SO_REUSEADDR, as servers do, so a connection in TIME_WAIT does not count.
    ``listening`` is a dump of ``listeners()`` to use instead of taking one. Linux refuses a
    wildcard bind beside any socket on the port that a loopback bind would be refused beside
    (a listener, or a bound socket without SO_REUSEADDR, on any address), so the wildcards
    alone answer for loopback too: two probes, not four.
    """
    found = listeners([port]) if listening is None else [s for s in listening if s.port == port]
    return not found and bindable_everywhere(port, loopback=False)


def bindable_everywhere(port: int, loopback: bool = True) -> bool:
    """Whether a server could bind ``port`` now on every address, and with ``loopback`` on
    loopback too, IPv4 and IPv6. BSD lets a wildcard bind with SO_REUSEADDR succeed beside a
    loopback listener (and a loopback bind beside a ``*:port`` one), so there both are asked."""
    probes = [(_socket.AF_INET, "0.0.0.0")]
    if _socket.has_ipv6:
        probes.append((_socket.AF_INET6, "::"))
    if loopback:
        probes += [(_socket.AF_INET, "127.0.0.1")]
        if _socket.has_ipv6:
            probes.append((_socket.AF_INET6, "::1"))
    return all(_bindable(family, address, port) for family, address in probes)


def _bindable(family: int, address: str, port: int) -> bool:
    try:  # _socket: without the socket module's Python wrapper (its __init__, __exit__, close)
        sock = _socket.socket(family, _socket.SOCK_STREAM)
    except OSError:
        return True  # this address family does not exist here: nothing can hold it
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        if family == _socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
    except OSError as exc:
        return exc.errno not in (errno.EADDRINUSE, errno.EACCES)
    finally:
        sock.close()
    return True
