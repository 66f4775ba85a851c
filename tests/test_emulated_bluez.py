"""The emulated BlueZ, driven by unmodified bleak over a private dbus-daemon.

These tests talk to the emulator the way any bleak program would, so they check that it
behaves like bluetoothd where bleak and bleak-retry-connector depend on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

from devices.emulator import (
    ConnectFailure,
    EmulatedDiyBoard,
    EmulatedPolar,
    EmulatedPolarH10,
    EmulatedPolarVeritySense,
    EmulatedThingy52,
    EmulatorHandle,
    SensorIdentity,
)
from devices.emulator.config import EmulatorConfigError, parse_config
from devices.protocols import diy, polar_pmd, thingy52
from devices.protocols.battery import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID
from devices.protocols.polar_pmd import PmdMeasurementType, PmdStatus
from tests.bluez_bus import bluez_rig, counting_feed, sample_index

H10 = "A0:9E:1A:00:00:01"
THINGY = "C0:11:22:33:44:55"
BOARD = "D0:11:22:33:44:66"
VERITY = "A0:9E:1A:00:00:02"


def h10() -> EmulatedPolarH10:
    return EmulatedPolarH10(
        SensorIdentity(H10, "Polar H10 0001", battery_pct=64), counting_feed(200)
    )


def thingy() -> EmulatedThingy52:
    return EmulatedThingy52(SensorIdentity(THINGY, "Thingy"), counting_feed(100))


def board() -> EmulatedDiyBoard:
    return EmulatedDiyBoard(SensorIdentity(BOARD, "backwatch-imu"), counting_feed(104))


def verity() -> EmulatedPolarVeritySense:
    return EmulatedPolarVeritySense(
        SensorIdentity(VERITY, "Polar Sense 1A000002"), counting_feed(52)
    )


def run(
    tmp_path: Path,
    sensors: list[EmulatedPolar | EmulatedThingy52 | EmulatedDiyBoard],
    body: Callable[[EmulatorHandle], Awaitable[None]],
) -> None:
    async def main() -> None:
        async with bluez_rig(tmp_path, sensors) as emu:
            await body(emu)

    asyncio.run(main())


async def find(address: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_address(address, timeout=5.0)
    assert device is not None, f"{address} not found"
    return device


class Notifications:
    """Collects notifications of one characteristic and lets a test wait for a count."""

    def __init__(self) -> None:
        self.values: list[bytes] = []
        self._changed = asyncio.Event()

    def __call__(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self.values.append(bytes(data))
        self._changed.set()

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[bytes]:
        async with asyncio.timeout(timeout_s):
            while len(self.values) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.values


def test_scan_announces_devices_with_changing_rssi(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        seen: dict[str, list[int]] = {}

        def detected(device: BLEDevice, adv: AdvertisementData) -> None:
            seen.setdefault(device.address, []).append(adv.rssi)

        async with BleakScanner(detected):
            async with asyncio.timeout(10.0):
                while min((len(seen.get(a, [])) for a in (H10, THINGY, BOARD)), default=0) < 4:
                    await asyncio.sleep(0.1)
        found = await BleakScanner.discover(timeout=1.0, return_adv=True)
        assert {found[a][1].local_name for a in (H10, THINGY, BOARD)} == {
            "Polar H10 0001",
            "Thingy",
            "backwatch-imu",
        }
        assert thingy52.thingy_uuid(0x0100) in found[THINGY][1].service_uuids
        assert diy.DIY_SERVICE_UUID in found[BOARD][1].service_uuids
        assert all(-70 <= rssi <= -50 for rssi in seen[H10])
        assert len(set(seen[H10])) > 1  # RSSI keeps moving while scanning

    run(tmp_path, [h10(), thingy(), board()], body)


def test_connect_exports_gatt_and_polar_control_point(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        async with BleakClient(await find(H10)) as client:
            uuids = {service.uuid for service in client.services}
            assert uuids == {polar_pmd.PMD_SERVICE_UUID, BATTERY_SERVICE_UUID}
            control = client.services.get_characteristic(polar_pmd.PMD_CONTROL_POINT_UUID)
            assert control is not None
            assert set(control.properties) == {"read", "write", "indicate"}
            assert await client.read_gatt_char(BATTERY_LEVEL_UUID) == b"\x40"
            features = polar_pmd.parse_features(bytes(await client.read_gatt_char(control)))
            assert features == {PmdMeasurementType.ECG, PmdMeasurementType.ACC}

            responses = Notifications()
            frames = Notifications()
            await client.start_notify(control, responses)
            await client.start_notify(polar_pmd.PMD_DATA_UUID, frames)
            acc = PmdMeasurementType.ACC
            await client.write_gatt_char(
                control, polar_pmd.build_get_settings_command(acc), response=True
            )
            await client.write_gatt_char(
                control,
                polar_pmd.build_start_command(acc, sample_rate_hz=130, range_g=8),
                response=True,
            )
            await client.write_gatt_char(
                control,
                polar_pmd.build_start_command(acc, sample_rate_hz=200, range_g=8),
                response=True,
            )
            answers = [
                polar_pmd.parse_control_point_response(v) for v in await responses.wait_for(3)
            ]
            offered = polar_pmd.parse_settings(answers[0].parameters)
            assert offered.sample_rates_hz == (25, 50, 100, 200)
            assert offered.ranges == (2, 4, 8)
            assert answers[1].status == PmdStatus.INVALID_SAMPLE_RATE
            assert answers[2].ok

            raw = await frames.wait_for(5)
            previous = None
            indices = []
            for data in raw[:5]:
                frame = polar_pmd.decode_data_frame(
                    data, previous_timestamp_ns=previous, sample_rate_hz=200
                )
                previous = frame.timestamp_ns
                indices.append(sample_index(frame.values[:, 0]))
                np.testing.assert_array_equal(frame.values[:, 2], 1.0)
            k = np.concatenate(indices)
            np.testing.assert_array_equal(k, np.arange(k.size))  # the feed, in order

    run(tmp_path, [h10()], body)


def test_verity_sense_streams_acc_and_gyro_with_factors(tmp_path: Path) -> None:
    acc, gyro = PmdMeasurementType.ACC, PmdMeasurementType.GYRO

    async def body(emu: EmulatorHandle) -> None:
        async with BleakClient(await find(VERITY)) as client:
            control = polar_pmd.PMD_CONTROL_POINT_UUID
            features = polar_pmd.parse_features(bytes(await client.read_gatt_char(control)))
            assert {acc, gyro, PmdMeasurementType.PPG} <= features
            assert PmdMeasurementType.ECG not in features
            responses = Notifications()
            frames = Notifications()
            await client.start_notify(control, responses)
            await client.start_notify(polar_pmd.PMD_DATA_UUID, frames)
            commands = [
                polar_pmd.build_get_settings_command(gyro),
                polar_pmd.build_start_command(gyro, sample_rate_hz=52, range_g=250),
                polar_pmd.build_start_command(gyro, sample_rate_hz=52, range_g=2000, channels=3),
                polar_pmd.build_start_command(acc, sample_rate_hz=52, range_g=8, channels=3),
                polar_pmd.build_start_command(acc, sample_rate_hz=52, range_g=8),
                polar_pmd.build_start_command(PmdMeasurementType.PPG, sample_rate_hz=55),
            ]
            for command in commands:
                await client.write_gatt_char(control, command, response=True)
            answers = [
                polar_pmd.parse_control_point_response(v)
                for v in await responses.wait_for(len(commands))
            ]
            offered = polar_pmd.parse_settings(answers[0].parameters)
            assert (offered.sample_rates_hz, offered.resolutions_bits) == ((52,), (16,))
            assert (offered.ranges, offered.channels) == ((2000,), (3,))
            assert answers[1].status == PmdStatus.INVALID_RANGE
            assert answers[2].ok
            assert answers[3].ok
            assert answers[4].status == PmdStatus.ALREADY_IN_STATE
            assert answers[5].status == PmdStatus.NOT_SUPPORTED  # offered, not emulated
            gyro_factor = polar_pmd.parse_settings(answers[2].parameters).factor
            acc_factor = polar_pmd.parse_settings(answers[3].parameters).factor
            assert gyro_factor == 2000 / 32768
            assert acc_factor == 8 / 32768

            await frames.wait_for(8)
            decoded: dict[int, list[polar_pmd.PmdFrame]] = {acc: [], gyro: []}
            previous: dict[int, int | None] = {acc: None, gyro: None}
            for data in frames.values[:8]:
                kind = data[0]
                assert data[9] == 0x80  # delta-compressed, frame type 0
                frame = polar_pmd.decode_data_frame(
                    data,
                    previous_timestamp_ns=previous[kind],
                    sample_rate_hz=52,
                    factor=acc_factor if kind == acc else gyro_factor,
                )
                previous[kind] = frame.timestamp_ns
                decoded[kind].append(frame)
            acc_frames, gyro_frames = decoded[acc], decoded[gyro]
            assert {len(f) for f in acc_frames} == {36}
            assert {len(f) for f in gyro_frames} == {24}
            # Sample k: acc x = k - 2 g (0.24 mG counts), gyro x = k mod 100 (0.061 deg/s).
            acc_values = np.vstack([f.values for f in acc_frames])
            gyro_values = np.vstack([f.values for f in gyro_frames])
            k_acc = sample_index(acc_values[:, 0])
            np.testing.assert_array_equal(np.diff(k_acc), 1)
            np.testing.assert_allclose(acc_values[:, 2], 1.0, atol=0.13e-3)
            # GYRO started first, at feed sample 0; ACC a command round trip later.
            assert 0 <= k_acc[0] < 10
            k_gyro = np.arange(gyro_values.shape[0])
            np.testing.assert_allclose(gyro_values[:, 0], k_gyro % 100, atol=0.031)
            # One clock: the same sample index has the same timestamp in both streams.
            acc_ns = np.concatenate([f.sample_timestamps_ns for f in acc_frames])
            gyro_ns = np.concatenate([f.sample_timestamps_ns for f in gyro_frames])
            common = min(acc_ns.size, gyro_ns.size - k_acc[0])
            np.testing.assert_allclose(
                acc_ns[:common], gyro_ns[k_acc[0] : k_acc[0] + common], atol=2
            )

            await client.write_gatt_char(control, polar_pmd.build_stop_command(gyro), response=True)
            await responses.wait_for(len(commands) + 1)
            stopped_at = len(frames.values)
            await frames.wait_for(stopped_at + 3)
            assert {v[0] for v in frames.values[stopped_at + 1 :]} == {acc}

    run(tmp_path, [verity()], body)


def test_thingy_config_is_checked_like_the_firmware(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        async with BleakClient(await find(THINGY)) as client:
            config_char = thingy52.MOTION_CONFIG_UUID
            default = thingy52.parse_motion_config(bytes(await client.read_gatt_char(config_char)))
            assert default.motion_frequency_hz == 10
            # The firmware refuses the write with ATT error 0x80; bleak decodes BlueZ's message.
            with pytest.raises(BleakGATTProtocolError, match="0x80"):
                await client.write_gatt_char(
                    config_char, bytes.fromhex("E8 03 F4 01 F4 01 00 00 01"), response=True
                )
            wanted = thingy52.MotionConfig(motion_frequency_hz=100)
            await client.write_gatt_char(
                config_char, thingy52.build_motion_config(wanted), response=True
            )
            assert (
                thingy52.parse_motion_config(bytes(await client.read_gatt_char(config_char)))
                == wanted
            )
            raw = Notifications()
            await client.start_notify(thingy52.RAW_UUID, raw)
            records = await raw.wait_for(20)
            batch = thingy52.decode_raw_records(b"".join(records[:20]))
            np.testing.assert_array_equal(sample_index(batch.acc_g[:, 0]), np.arange(20))
            np.testing.assert_array_equal(batch.gyro_dps[:, 0], np.arange(20))

    run(tmp_path, [thingy()], body)


def test_thingy_notifications_through_an_acquired_socket(tmp_path: Path) -> None:
    """AcquireNotify: the same notifications through a socket; closing it ends them."""

    async def body(emu: EmulatorHandle) -> None:
        peripheral = emu.peripheral(THINGY)
        async with BleakClient(await find(THINGY)) as client:
            await client.write_gatt_char(
                thingy52.MOTION_CONFIG_UUID,
                thingy52.build_motion_config(thingy52.MotionConfig(motion_frequency_hz=100)),
                response=True,
            )
            raw = Notifications()
            signals_before = peripheral.notifications_sent
            await client.start_notify(thingy52.RAW_UUID, raw, bluez={"use_start_notify": False})
            records = await raw.wait_for(20)
            batch = thingy52.decode_raw_records(b"".join(records[:20]))
            np.testing.assert_array_equal(sample_index(batch.acc_g[:, 0]), np.arange(20))
            assert peripheral.notifications_sent - signals_before >= 20
            char = peripheral.characteristic(thingy52.RAW_UUID)
            assert char.acquired
            await client.stop_notify(thingy52.RAW_UUID)  # bleak closes its end
            async with asyncio.timeout(5):
                while char.acquired:
                    await asyncio.sleep(0.01)
            assert not char.notifying
            count = len(raw.values)
            await asyncio.sleep(0.2)
            assert len(raw.values) == count
            # StartNotify still works afterwards, as with bluetoothd.
            again = Notifications()
            await client.start_notify(thingy52.RAW_UUID, again)
            await again.wait_for(5)

    run(tmp_path, [thingy()], body)


def test_diy_board_frames(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        async with BleakClient(await find(BOARD)) as client:
            config = diy.parse_config(bytes(await client.read_gatt_char(diy.DIY_CONFIG_UUID)))
            assert config.rate_hz == pytest.approx(104.0)
            frames = Notifications()
            await client.start_notify(diy.DIY_DATA_UUID, frames)
            decoded = [diy.decode_frame(v, config) for v in (await frames.wait_for(4))[:4]]
            assert [f.seq for f in decoded] == [0, 1, 2, 3]
            k = np.concatenate([sample_index(f.acc_g[:, 0]) for f in decoded])
            np.testing.assert_array_equal(k, np.arange(40))

    run(tmp_path, [board()], body)


def test_connect_failures_look_like_bluez(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        peripheral = emu.peripheral(H10)
        device = await find(H10)
        peripheral.fail_next_connects(1, ConnectFailure.IN_PROGRESS)
        with pytest.raises(BleakDBusError, match="InProgress"):
            await BleakClient(device).connect()
        peripheral.fail_next_connects(1, ConnectFailure.FAILED)
        with pytest.raises(BleakDBusError, match="Software caused connection abort"):
            await BleakClient(device).connect()
        # bleak retries le-connection-abort-by-local itself after seeing Connected go false.
        peripheral.fail_next_connects(2, ConnectFailure.ABORT_BY_LOCAL)
        client = BleakClient(device)
        await client.connect()
        assert client.is_connected
        assert peripheral.connects == 1
        await client.disconnect()
        assert not peripheral.connected

    run(tmp_path, [h10()], body)


def test_retry_connector_gets_through_transient_failures(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        peripheral = emu.peripheral(BOARD)
        peripheral.fail_next_connects(2, ConnectFailure.IN_PROGRESS)
        client = await establish_connection(
            BleakClientWithServiceCache, await find(BOARD), "board", max_attempts=4
        )
        assert client.is_connected
        assert peripheral.connects == 1
        await client.disconnect()

    run(tmp_path, [board()], body)


def test_link_loss_garbage_stall_vanish(tmp_path: Path) -> None:
    async def body(emu: EmulatorHandle) -> None:
        peripheral = emu.peripheral(BOARD)
        lost = asyncio.Event()
        client = BleakClient(await find(BOARD), disconnected_callback=lambda _c: lost.set())
        await client.connect()
        config = diy.parse_config(bytes(await client.read_gatt_char(diy.DIY_CONFIG_UUID)))
        frames = Notifications()
        await client.start_notify(diy.DIY_DATA_UUID, frames)
        await frames.wait_for(2)

        peripheral.send_garbage(3)
        count = len(frames.values)
        values = await frames.wait_for(count + 5)
        bad = 0
        for value in values[count : count + 5]:
            try:
                diy.decode_frame(value, config)
            except ValueError:
                bad += 1
        assert bad >= 2  # random bytes rarely form a whole frame

        peripheral.stall()
        await asyncio.sleep(0.3)
        stalled_at = len(frames.values)
        await asyncio.sleep(0.5)
        assert len(frames.values) == stalled_at
        assert peripheral.notifications_dropped > 0
        peripheral.resume()
        await frames.wait_for(stalled_at + 2)

        peripheral.drop_connection()
        async with asyncio.timeout(5.0):
            await lost.wait()
        assert not client.is_connected

        peripheral.vanish()
        assert await BleakScanner.find_device_by_address(BOARD, timeout=1.0) is None
        with pytest.raises((BleakDeviceNotFoundError, BleakError)):
            await BleakClient(BOARD, timeout=2.0).connect()
        peripheral.reappear()
        again = await find(BOARD)
        async with BleakClient(again) as client2:
            assert client2.is_connected

    run(tmp_path, [board()], body)


def test_emulator_config_file() -> None:
    config = parse_config(
        {
            "adapters": ["hci0", "hci1"],
            "sensors": [
                {"kind": "polar_h10", "address": H10},
                {"kind": "thingy52", "address": THINGY, "adapter": "hci1"},
                {"kind": "diy", "address": BOARD, "rate_hz": 52.0},
            ],
        }
    )
    assert [adapter for _, adapter in config.sensors] == ["hci0", "hci1", "hci0"]
    assert config.sensors[0][0].identity.name == "Polar H10 0001"
    with pytest.raises(EmulatorConfigError, match=r"sensors\[0\]\.kind"):
        parse_config({"sensors": [{"kind": "fitbit", "address": H10}]})
    with pytest.raises(EmulatorConfigError, match=r"sensors\[0\]\.address"):
        parse_config({"sensors": [{"kind": "diy", "address": "nope"}]})
    with pytest.raises(EmulatorConfigError, match="repeated address"):
        parse_config(
            {"sensors": [{"kind": "diy", "address": H10}, {"kind": "diy", "address": H10}]}
        )


def test_emulator_config_verity_sense() -> None:
    config = parse_config(
        {
            "sensors": [
                {"kind": "polar_verity_sense", "address": VERITY},
                {
                    "kind": "polar_verity_sense",
                    "address": H10,
                    "name": "Polar Sense B5F3A128",
                    "samples_per_frame": 40,
                    "gyro_samples_per_frame": 30,
                },
            ]
        }
    )
    first, second = (sensor for sensor, _ in config.sensors)
    assert isinstance(first, EmulatedPolarVeritySense)
    assert isinstance(second, EmulatedPolarVeritySense)
    assert first.identity.name == "Polar Sense 1A000002"
    assert (first.acc_samples_per_frame, first.gyro_samples_per_frame) == (36, 24)
    assert (second.acc_samples_per_frame, second.gyro_samples_per_frame) == (40, 30)
    assert second.identity.name == "Polar Sense B5F3A128"
    with pytest.raises(EmulatorConfigError, match=r"sensors\[0\]\.compressed"):
        parse_config(
            {"sensors": [{"kind": "polar_verity_sense", "address": VERITY, "compressed": True}]}
        )
    with pytest.raises(EmulatorConfigError, match=r"sensors\[0\]\.gyro_samples_per_frame"):
        parse_config(
            {"sensors": [{"kind": "polar_h10", "address": H10, "gyro_samples_per_frame": 9}]}
        )
    with pytest.raises(EmulatorConfigError, match="1-255"):
        parse_config(
            {"sensors": [{"kind": "polar_verity_sense", "address": VERITY, "samples_per_frame": 0}]}
        )
