"""The handshake, start-up and connection rules, exactly as the official client meets them in TWS."""

from __future__ import annotations

import socket
import struct

import pytest

from sim import codec
from tests.sim.ib_client import CLIENT_MAX_VERSION, RecordingClient
from tests.sim.versions import SERVER_VERSIONS
from tests.waiting import wait_until


@pytest.mark.parametrize("max_version", SERVER_VERSIONS)
def test_handshake_negotiates_the_lower_of_both_maxima_and_startup_follows(sim_factory, connect, max_version):
    sim = sim_factory(max_version=max_version)
    ib = connect(sim, client_id=7)
    assert ib.serverVersion() == min(max_version, CLIENT_MAX_VERSION)
    ib.wait_event("managedAccounts")
    farm = ib.wait_for(lambda ev: [e.data["code"] for e in ev if e.name == "error"] if
                       len([e for e in ev if e.name == "error"]) >= 3 else None)
    assert farm == [2104, 2106, 2158]
    assert all(e.req_id == -1 for e in ib.named("error"))
    names = [e.name for e in ib.events]
    assert names.index("managedAccounts") < names.index("nextValidId") < names.index("error")
    assert ib.named("managedAccounts")[0].data["accounts"] == "DU1234567"
    assert sim.client_ids() == [7]


def test_default_version_is_the_highest_supported(sim, ib):
    assert sim.max_version == codec.max_supported_version()
    assert ib.serverVersion() == min(CLIENT_MAX_VERSION, sim.max_version)


def _raw_handshake(port: int, version_range: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"API\0" + struct.pack("!I", len(version_range)) + version_range)
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
            if len(b"".join(chunks)) >= 4 and len(b"".join(chunks)) >= 4 + struct.unpack("!I", chunks[0][:4])[0]:
                break
        return b"".join(chunks)


def test_handshake_reply_is_one_frame_of_two_fields_and_accepts_connect_options(sim):
    reply = _raw_handshake(sim.port, b"v100..157 +PACEAPI")
    (size,) = struct.unpack("!I", reply[:4])
    fields = reply[4:4 + size].split(b"\0")[:-1]
    assert len(reply) == 4 + size
    assert fields[0] == b"157" and len(fields) == 2


def test_a_client_whose_range_cannot_be_served_is_closed_without_reply(sim_factory):
    sim = sim_factory(max_version=157)
    assert _raw_handshake(sim.port, b"v158..226") == b""
    assert _raw_handshake(sim.port, b"v20..90") == b""
    assert _raw_handshake(sim.port, b"garbage") == b""


def test_current_time_and_ids(sim, ib):
    ib.reqCurrentTime()
    assert ib.wait_event("currentTime").data["time"] == int(sim.clock.now())
    ib.reqIds(1)
    ib.wait_for(lambda ev: len([e for e in ev if e.name == "nextValidId"]) == 2)


def test_two_clients_at_once_each_with_its_own_id(sim, connect):
    a, b = connect(sim, 1), connect(sim, 2)
    assert sim.client_ids() == [1, 2]
    a.reqCurrentTime()
    b.reqCurrentTime()
    a.wait_event("currentTime")
    b.wait_event("currentTime")


def test_a_second_connection_with_an_id_in_use_gets_326_and_is_closed(sim, connect):
    connect(sim, 5)
    late = RecordingClient().start(sim.port, 5, refused=True)
    try:
        err = late.wait_error(-1)
        assert err.data["code"] == 326
        assert "client id is already in use" in err.data["message"]
        late.wait_for(lambda _: not late.isConnected())
        assert sim.client_ids() == [5]
    finally:
        late.stop()


def test_the_id_is_free_again_once_its_connection_closes(sim, connect):
    connect(sim, 9).stop()
    wait_until(lambda: sim.client_ids() == [], what="server noticed the close")
    again = RecordingClient().start(sim.port, 9)
    try:
        again.wait_event("nextValidId")
    finally:
        again.stop()


def test_a_malformed_message_is_ignored_and_the_connection_keeps_serving(sim, ib):
    ib.conn.sendMsg(struct.pack("!I", 7) + b"\xff\xfe\x00zz\x00\x00")
    ib.reqCurrentTime()
    ib.wait_event("currentTime")


def test_unserved_requests_are_logged_and_ignored(sim, ib):
    ib.reqScannerParameters()
    ib.reqCurrentTime()
    ib.wait_event("currentTime")
    assert sim.request_log.received("UnknownMessage")
