"""The embedded emulator: moto's server on a loopback port, and the environment it applies."""

from __future__ import annotations

import os

from runbook.demo.emulator import Emulator, port_open


def test_emulator_serves_on_loopback_then_really_stops() -> None:
    before = dict(os.environ)
    with Emulator() as emu:
        assert emu.endpoint_url.startswith("http://127.0.0.1:")
        env = emu.environ()
        assert os.environ["AWS_ENDPOINT_URL"] == emu.endpoint_url
        assert os.environ["RUNBOOK_EMULATOR"] == "1"
        assert env["AWS_EC2_METADATA_DISABLED"] == "true"
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == emu.region
        assert not env["AWS_ACCESS_KEY_ID"].startswith(("AKIA", "ASIA"))
        assert "127.0.0.1" in env["NO_PROXY"].split(",")
        port = emu.port
        assert port_open(port)
    assert not port_open(port), "the emulator's port still accepts connections"
    assert not emu.running
    assert dict(os.environ) == before


def test_emulator_environ_can_be_applied_and_restored_apart_from_the_server() -> None:
    emu = Emulator().start()
    try:
        os.environ["AWS_PROFILE"] = "someone-real"
        with emu.applied():
            assert "AWS_PROFILE" not in os.environ
            assert os.environ["AWS_ENDPOINT_URL"] == emu.endpoint_url
            with emu.applied():  # nested: the inner block leaves it applied
                pass
            assert os.environ["AWS_ENDPOINT_URL"] == emu.endpoint_url
        assert os.environ["AWS_PROFILE"] == "someone-real"
        assert "AWS_ENDPOINT_URL" not in os.environ
    finally:
        os.environ.pop("AWS_PROFILE", None)
        emu.stop()
        emu.stop()  # twice is fine
    assert not emu.accepts_connections()
