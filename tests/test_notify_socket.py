"""Notification sockets read in bursts: on a socket pair, and acquired from the emulated BlueZ."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner

from devices.emulator import EmulatedThingy52, EmulatorHandle, SensorIdentity
from devices.notify_socket import (
    NotifyBurst,
    NotifySocketError,
    NotifySocketReader,
    acquired_notifications,
    offers_acquire_notify,
)
from devices.protocols import thingy52
from tests.bluez_bus import bluez_rig, counting_feed, sample_index

THINGY = "C0:11:22:33:44:55"


class Bursts:
    """Records every burst and answers each with the next pause from ``pauses_s`` (then 0)."""

    def __init__(self, *pauses_s: float) -> None:
        self.seen: list[NotifyBurst] = []
        self.read_wall_s: list[float] = []
        self._pauses_s = list(pauses_s)

    def __call__(self, burst: NotifyBurst) -> float:
        self.seen.append(burst)
        self.read_wall_s.append(time.time())
        return self._pauses_s.pop(0) if self._pauses_s else 0.0

    @property
    def packets(self) -> list[bytes]:
        return [p for burst in self.seen for p in burst.packets]

    async def wait_for(self, packets: int, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while len(self.packets) < packets:
                await asyncio.sleep(0.01)


def pair_test(body: Callable[[socket.socket, socket.socket], Awaitable[None]]) -> None:
    async def main() -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            await body(ours, theirs)

    asyncio.run(main())


def test_what_queued_before_the_reader_comes_as_one_burst() -> None:
    async def body(ours: socket.socket, theirs: socket.socket) -> None:
        for k in range(5):
            theirs.send(bytes([k]) * 18)
        await asyncio.sleep(0.2)
        bursts = Bursts()
        reader = NotifySocketReader(ours, bursts, "test")
        await bursts.wait_for(5)
        reader.close()
        assert reader.stamped
        assert len(bursts.seen) == 1
        assert bursts.packets == [bytes([k]) * 18 for k in range(5)]
        # The kernel stamps packets only once asked to: these carry the time they were read.
        np.testing.assert_allclose(bursts.seen[0].arrived_wall_s, bursts.read_wall_s[0], atol=0.05)

    pair_test(body)


def test_the_reader_pauses_as_told_then_takes_everything_that_queued() -> None:
    async def body(ours: socket.socket, theirs: socket.socket) -> None:
        bursts = Bursts(0.5)
        reader = NotifySocketReader(ours, bursts, "test")
        theirs.send(b"first")
        await bursts.wait_for(1)
        sent_wall_s: list[float] = []
        for k in range(10):
            sent_wall_s.append(time.time())
            theirs.send(bytes([k]))
            await asyncio.sleep(0.02)
        await bursts.wait_for(11)
        reader.close()
        assert [len(b.packets) for b in bursts.seen] == [1, 10]  # read once, after the pause
        assert bursts.read_wall_s[1] - bursts.read_wall_s[0] >= 0.45
        # Stamped by the kernel as each arrived, not when the burst was read (0.25-0.5 s on).
        np.testing.assert_allclose(bursts.seen[1].arrived_wall_s, sent_wall_s, atol=0.02)

    pair_test(body)


def test_an_empty_notification_is_data_and_a_closed_end_stops_the_reader() -> None:
    async def body(ours: socket.socket, theirs: socket.socket) -> None:
        bursts = Bursts()
        reader = NotifySocketReader(ours, bursts, "test")
        theirs.send(b"")
        theirs.send(b"x")
        await bursts.wait_for(2)
        assert not reader.closed
        theirs.close()
        async with asyncio.timeout(5):
            while not reader.closed:
                await asyncio.sleep(0.01)
        assert bursts.packets == [b"", b"x"]
        assert ours.fileno() == -1  # closed

    pair_test(body)


def test_closing_hands_on_what_is_still_queued() -> None:
    async def body(ours: socket.socket, theirs: socket.socket) -> None:
        bursts = Bursts(10.0)
        reader = NotifySocketReader(ours, bursts, "test")
        theirs.send(b"a")
        await bursts.wait_for(1)
        theirs.send(b"b")
        theirs.send(b"c")
        reader.close()
        reader.close()  # idempotent
        assert bursts.packets == [b"a", b"b", b"c"]

    pair_test(body)


def emulated(tmp_path: Path, body: Callable[[EmulatorHandle], Awaitable[None]]) -> None:
    async def main() -> None:
        sensor = EmulatedThingy52(SensorIdentity(THINGY, "Thingy"), counting_feed(100))
        async with bluez_rig(tmp_path, [sensor]) as emu:
            await body(emu)

    asyncio.run(main())


def test_acquired_from_bluez_until_the_block_ends(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        device = await BleakScanner.find_device_by_address(THINGY)
        assert device is not None
        async with BleakClient(device) as client:
            await client.write_gatt_char(
                thingy52.MOTION_CONFIG_UUID,
                thingy52.build_motion_config(thingy52.MotionConfig(motion_frequency_hz=100)),
                response=True,
            )
            char = emu.peripheral(THINGY).characteristic(thingy52.RAW_UUID)
            raw = client.services.get_characteristic(thingy52.RAW_UUID)
            assert raw is not None
            assert offers_acquire_notify(raw)
            bursts = Bursts(0.2, 0.2, 0.2)
            async with acquired_notifications(raw, bursts, "thigh") as reader:
                assert char.acquired
                await bursts.wait_for(60)
                # BlueZ hands it out once: a second owner is refused, with its reason.
                with pytest.raises(NotifySocketError, match="NotPermitted"):
                    async with acquired_notifications(raw, Bursts(), "thigh"):
                        pass
            assert reader.closed
            async with asyncio.timeout(5):
                while char.acquired:
                    await asyncio.sleep(0.01)
            assert not char.notifying
            records = bursts.packets
            batch = thingy52.decode_raw_records(b"".join(records))
            k = sample_index(batch.acc_g[:, 0])
            np.testing.assert_array_equal(np.diff(k), 1)
            assert len(bursts.seen) < len(records) / 4  # bursts, not one read per record

    emulated(tmp_path, body)
