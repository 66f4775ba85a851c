"""The emulated BlueZ: ``org.bluez`` adapters, devices and GATT objects exported with dbus-fast.

It does what unmodified bleak and bleak-retry-connector need from bluetoothd: adapters with
``Powered`` and the ``central`` role; devices announced on ``StartDiscovery`` with a
changing ``RSSI``; ``Connect`` that sets ``Connected``, then exports the GATT objects under
BlueZ's path layout, then sets ``ServicesResolved``; ``StartNotify`` and notifications as
``PropertiesChanged`` on ``Value``, or ``AcquireNotify`` and notifications written to a
``SOCK_SEQPACKET`` socket whose other end the client got as a file descriptor (closing it
ends them, as with bluetoothd); and BlueZ's error names when things fail.

Faults are switched on per device through :class:`EmulatedPeripheral`.
"""

import asyncio
import contextlib
import logging
import math
import socket
from collections import deque
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import numpy as np
from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
    DBusUInt32,
)
from dbus_fast.constants import PropertyAccess, RequestNameReply
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from devices.emulator.gatt import CharacteristicSpec, GattError, GattErrorName
from devices.emulator.sensors import EmulatedSensor

log = logging.getLogger(__name__)

BLUEZ_SERVICE = "org.bluez"
ADAPTER_INTERFACE = "org.bluez.Adapter1"
DEVICE_INTERFACE = "org.bluez.Device1"
GATT_SERVICE_INTERFACE = "org.bluez.GattService1"
GATT_CHARACTERISTIC_INTERFACE = "org.bluez.GattCharacteristic1"

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusPathList = Annotated[list[str], DBusSignature("ao")]
DBusManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
DBusFdAndMtu = Annotated[list[Any], DBusSignature("hq")]

_RSSI_TICK_S = 0.2
_MTU = 247
# Our copy of the client's socket end is closed this long after AcquireNotify returns: the
# reply carrying the descriptor has been written by then, and while we hold the copy the
# client's close cannot reach our end as end-of-file.
_HAND_OVER_S = 0.5


class StartError(RuntimeError):
    """The emulated BlueZ could not claim its bus name."""


class ConnectFailure(StrEnum):
    """How an injected connect failure looks to the client, as BlueZ reports it."""

    IN_PROGRESS = "in_progress"
    """``org.bluez.Error.InProgress`` at once."""
    ABORT_BY_LOCAL = "abort_by_local"
    """``Connected`` goes true then false, then ``org.bluez.Error.Failed``
    ``le-connection-abort-by-local`` (bleak retries this itself)."""
    FAILED = "failed"
    """``org.bluez.Error.Failed`` ``Software caused connection abort``."""


def _error(name: GattErrorName | str, text: str) -> DBusError:
    return DBusError(str(name), text)


# --------------------------------------------------------------------------- GATT objects


class CharacteristicInterface(ServiceInterface):
    """``org.bluez.GattCharacteristic1`` of one emulated characteristic."""

    def __init__(
        self, peripheral: "EmulatedPeripheral", spec: CharacteristicSpec, service: str
    ) -> None:
        """Export ``spec`` under ``service`` (an object path)."""
        super().__init__(GATT_CHARACTERISTIC_INTERFACE)
        self._peripheral = peripheral
        self.spec = spec
        self._service = service
        self._value = b""
        self.notifying = False
        # AcquireNotify: our end of the notification socket, and the client's until sent.
        self._acquired: socket.socket | None = None
        self._handed_out: socket.socket | None = None

    @dbus_property(access=PropertyAccess.READ, name="UUID")
    def uuid(self) -> DBusStr:
        """The characteristic's UUID."""
        return self.spec.uuid

    @dbus_property(access=PropertyAccess.READ, name="Service")
    def service(self) -> DBusObjectPath:
        """The service object this characteristic belongs to."""
        return self._service

    @dbus_property(access=PropertyAccess.READ, name="Value")
    def value(self) -> DBusBytes:
        """The last value read or notified."""
        return self._value

    @dbus_property(access=PropertyAccess.READ, name="Notifying")
    def notifying_property(self) -> DBusBool:
        """Whether notifications are on."""
        return self.notifying

    @dbus_property(access=PropertyAccess.READ, name="Flags")
    def flags(self) -> DBusStrList:
        """GATT properties."""
        return [str(flag) for flag in self.spec.flags]

    @dbus_property(access=PropertyAccess.READ, name="MTU")
    def mtu(self) -> DBusUInt16:
        """The link's ATT MTU."""
        return _MTU

    @dbus_property(access=PropertyAccess.READ, name="NotifyAcquired")
    def notify_acquired(self) -> DBusBool:
        """Whether notifications go to an acquired socket."""
        return self.acquired

    @property
    def acquired(self) -> bool:
        """Whether notifications go to an acquired socket (for tests)."""
        return self._acquired is not None

    def update_value(self, value: bytes) -> None:
        """Store a new value and announce it (a notification, as bleak reads them)."""
        self._value = value
        if self._acquired is None:
            self.emit_properties_changed({"Value": value})
            return
        try:
            self._acquired.send(value)
        except BlockingIOError:
            self._peripheral.notifications_dropped += 1  # the client does not read: lost
        except OSError:
            self.release_acquired()

    @dbus_method(name="AcquireNotify")
    def acquire_notify(self, options: DBusDict) -> DBusFdAndMtu:
        """Notifications through a socket: the client gets one end as a file descriptor."""
        del options
        if not self.spec.can_notify:
            raise _error(GattErrorName.NOT_SUPPORTED, "Operation is not supported")
        if self.notifying:
            raise _error("org.bluez.Error.NotPermitted", "Notify acquired")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)  # noqa: FBT003 (the socket API)
        self._acquired, self._handed_out = ours, theirs
        loop = asyncio.get_running_loop()
        loop.add_reader(ours.fileno(), self._on_acquired_readable)
        loop.call_later(_HAND_OVER_S, self._close_handed_out, theirs)
        self.notifying = True
        self.emit_properties_changed({"NotifyAcquired": True, "Notifying": True})
        self._peripheral.sensor.subscription_changed(self.spec.uuid, enabled=True)
        return [theirs.fileno(), _MTU]

    def _close_handed_out(self, theirs: socket.socket) -> None:
        """Drop our copy of the client's end once the reply carrying it has gone."""
        theirs.close()
        if self._handed_out is theirs:
            self._handed_out = None

    def _on_acquired_readable(self) -> None:
        """The client closed its end (or wrote, which BlueZ ignores): closed ends it."""
        if self._acquired is None:
            return
        try:
            data = self._acquired.recv(_MTU)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.release_acquired()

    def release_acquired(self, *, tell_sensor: bool = True) -> None:
        """End notifications through the acquired socket (client closed it, or link lost)."""
        ours, self._acquired = self._acquired, None
        if ours is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            asyncio.get_running_loop().remove_reader(ours.fileno())
        ours.close()
        if self._handed_out is not None:
            self._handed_out.close()
            self._handed_out = None
        if self.notifying:
            self.notifying = False
            if tell_sensor:
                self._peripheral.sensor.subscription_changed(self.spec.uuid, enabled=False)

    @dbus_method(name="ReadValue")
    def read_value(self, options: DBusDict) -> DBusBytes:
        """Read from the sensor; like BlueZ, a read also updates ``Value``."""
        del options
        try:
            value = self._peripheral.sensor.read(self.spec.uuid)
        except GattError as exc:
            raise _error(exc.name, exc.text) from exc
        self.update_value(value)
        return value

    @dbus_method(name="WriteValue")
    def write_value(self, value: DBusBytes, options: DBusDict) -> None:
        """Write to the sensor."""
        del options
        try:
            self._peripheral.sensor.write(self.spec.uuid, bytes(value))
        except GattError as exc:
            raise _error(exc.name, exc.text) from exc

    @dbus_method(name="StartNotify")
    def start_notify(self) -> None:
        """Enable notifications (writes the CCCD on a real device)."""
        if not self.spec.can_notify:
            raise _error(GattErrorName.NOT_SUPPORTED, "Operation is not supported")
        if self.notifying:
            return
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})
        self._peripheral.sensor.subscription_changed(self.spec.uuid, enabled=True)

    @dbus_method(name="StopNotify")
    def stop_notify(self) -> None:
        """Disable notifications."""
        if self._acquired is not None:
            raise _error(GattErrorName.FAILED, "Notify acquired: close the socket instead")
        if not self.notifying:
            raise _error(GattErrorName.FAILED, "No notify session started")
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})
        self._peripheral.sensor.subscription_changed(self.spec.uuid, enabled=False)


class ServiceObject(ServiceInterface):
    """``org.bluez.GattService1`` of one emulated primary service."""

    def __init__(self, uuid: str, device: str) -> None:
        """A primary service of the device at object path ``device``."""
        super().__init__(GATT_SERVICE_INTERFACE)
        self._uuid = uuid
        self._device = device

    @dbus_property(access=PropertyAccess.READ, name="UUID")
    def uuid(self) -> DBusStr:
        """The service's UUID."""
        return self._uuid

    @dbus_property(access=PropertyAccess.READ, name="Primary")
    def primary(self) -> DBusBool:
        """Always a primary service."""
        return True

    @dbus_property(access=PropertyAccess.READ, name="Device")
    def device(self) -> DBusObjectPath:
        """The device this service belongs to."""
        return self._device

    @dbus_property(access=PropertyAccess.READ, name="Includes")
    def includes(self) -> DBusPathList:
        """No included services."""
        return []


# --------------------------------------------------------------------------- device


class DeviceInterface(ServiceInterface):
    """``org.bluez.Device1`` of one emulated peripheral."""

    def __init__(self, peripheral: "EmulatedPeripheral") -> None:
        """The D-Bus face of ``peripheral``."""
        super().__init__(DEVICE_INTERFACE)
        self._peripheral = peripheral

    @dbus_property(access=PropertyAccess.READ, name="Address")
    def address(self) -> DBusStr:
        """Bluetooth address."""
        return self._peripheral.address

    @dbus_property(access=PropertyAccess.READ, name="AddressType")
    def address_type(self) -> DBusStr:
        """LE random static address."""
        return "random"

    @dbus_property(access=PropertyAccess.READ, name="Name")
    def device_name(self) -> DBusStr:
        """Advertised name (the Python name must not shadow ServiceInterface.name)."""
        return self._peripheral.sensor.identity.name

    @dbus_property(access=PropertyAccess.READ, name="Alias")
    def alias(self) -> DBusStr:
        """Alias (the name)."""
        return self._peripheral.sensor.identity.name

    @dbus_property(access=PropertyAccess.READ, name="Adapter")
    def adapter(self) -> DBusObjectPath:
        """The adapter that sees the device."""
        return self._peripheral.adapter_path

    @dbus_property(access=PropertyAccess.READ, name="Paired")
    def paired(self) -> DBusBool:
        """Never paired: these sensors need no bonding."""
        return False

    @dbus_property(access=PropertyAccess.READ, name="Bonded")
    def bonded(self) -> DBusBool:
        """Never bonded."""
        return False

    @dbus_property(access=PropertyAccess.READ, name="Trusted")
    def trusted(self) -> DBusBool:
        """Not trusted."""
        return False

    @dbus_property(access=PropertyAccess.READ, name="Blocked")
    def blocked(self) -> DBusBool:
        """Not blocked."""
        return False

    @dbus_property(access=PropertyAccess.READ, name="LegacyPairing")
    def legacy_pairing(self) -> DBusBool:
        """LE: no legacy pairing."""
        return False

    @dbus_property(access=PropertyAccess.READ, name="Connected")
    def connected(self) -> DBusBool:
        """Link state."""
        return self._peripheral.connected

    @dbus_property(access=PropertyAccess.READ, name="ServicesResolved")
    def services_resolved(self) -> DBusBool:
        """Whether the GATT objects are exported."""
        return self._peripheral.services_resolved

    @dbus_property(access=PropertyAccess.READ, name="RSSI")
    def rssi(self) -> DBusInt16:
        """Signal strength of the last advertisement."""
        return self._peripheral.rssi_dbm

    @dbus_property(access=PropertyAccess.READ, name="UUIDs")
    def uuids(self) -> DBusStrList:
        """Advertised service UUIDs."""
        return list(self._peripheral.sensor.advertised_uuids())

    @dbus_property(access=PropertyAccess.READ, name="ManufacturerData")
    def manufacturer_data(self) -> DBusManufacturerData:
        """No manufacturer data."""
        return {}

    @dbus_property(access=PropertyAccess.READ, name="ServiceData")
    def service_data(self) -> DBusDict:
        """No service data."""
        return {}

    @dbus_method(name="Connect")
    async def connect(self) -> None:
        """Connect, as bluetoothd does (or fail as told)."""
        await self._peripheral.connect()

    @dbus_method(name="Disconnect")
    async def disconnect(self) -> None:
        """Disconnect (a no-op when not connected)."""
        self._peripheral.disconnect()

    @dbus_method(name="Pair")
    def pair(self) -> None:
        """These sensors need no pairing."""
        raise _error("org.bluez.Error.NotSupported", "Operation is not supported")

    @dbus_method(name="CancelPairing")
    def cancel_pairing(self) -> None:
        """Nothing to cancel."""
        raise _error("org.bluez.Error.DoesNotExist", "Does Not Exist")


class EmulatedPeripheral:
    """One emulated sensor as BlueZ sees it: its objects, link state and fault switches.

    Faults for tests and demos: :meth:`drop_connection`, :meth:`fail_next_connects`,
    :meth:`stall` / :meth:`resume`, :meth:`send_garbage`, :meth:`vanish` / :meth:`reappear`.
    """

    def __init__(
        self,
        bus: MessageBus,
        adapter: "AdapterInterface",
        sensor: EmulatedSensor,
        rng: np.random.Generator,
        *,
        connect_delay_s: float = 0.05,
        resolve_delay_s: float = 0.05,
    ) -> None:
        """Place ``sensor`` in range of ``adapter``."""
        self._bus = bus
        self._adapter = adapter
        self.sensor = sensor
        self._rng = rng
        self.address = sensor.identity.address.upper()
        self.adapter_path = adapter.path
        self.path = f"{adapter.path}/dev_{self.address.replace(':', '_')}"
        self.connect_delay_s = connect_delay_s
        self.resolve_delay_s = resolve_delay_s
        self.rssi_dbm = sensor.identity.rssi_dbm
        self.present = True
        self.connected = False
        self.services_resolved = False
        self.exported = False
        self.connects = 0
        self.disconnects = 0
        self.notifications_sent = 0
        self.notifications_dropped = 0
        self._device = DeviceInterface(self)
        self._connecting = False
        self._failures: deque[ConnectFailure] = deque()
        self._garbage_left = 0
        self._stalled_until: float | None = None
        self._chars: dict[str, CharacteristicInterface] = {}
        self._gatt_paths: list[tuple[str, ServiceInterface]] = []
        self._resolve_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ fault switches

    def fail_next_connects(
        self, count: int = 1, failure: ConnectFailure = ConnectFailure.ABORT_BY_LOCAL
    ) -> None:
        """Make the next ``count`` connect attempts fail the way ``failure`` describes."""
        self._failures.extend([failure] * count)

    def drop_connection(self) -> None:
        """Lose the link now (supervision timeout): the client sees ``Connected`` false."""
        self.disconnect()

    def stall(self, duration_s: float | None = None) -> None:
        """Stop delivering data notifications for ``duration_s`` (until :meth:`resume`)."""
        loop = asyncio.get_running_loop()
        self._stalled_until = math.inf if duration_s is None else loop.time() + duration_s

    def resume(self) -> None:
        """End a stall."""
        self._stalled_until = None

    def send_garbage(self, frames: int = 1) -> None:
        """Replace the next ``frames`` data notifications with random bytes."""
        self._garbage_left += frames

    def vanish(self) -> None:
        """Go out of range: drop the link and disappear from BlueZ."""
        self.present = False
        self.disconnect()
        self._unexport_device()

    def reappear(self) -> None:
        """Come back in range; announced again at once if the adapter is scanning."""
        self.present = True
        if self._adapter.discovering:
            self.announce()

    # ------------------------------------------------------------------ link, for sensors

    def characteristic(self, char_uuid: str) -> CharacteristicInterface:
        """The exported characteristic (while connected and resolved), for tests."""
        return self._chars[char_uuid]

    def notify(self, char_uuid: str, value: bytes) -> None:
        """Deliver a notification to the client if it has subscribed (the sensor's link)."""
        char = self._chars.get(char_uuid)
        if char is None or not self.connected or not char.notifying:
            return
        if char_uuid == self.sensor.data_uuid:
            if self._stalled_until is not None:
                if asyncio.get_running_loop().time() < self._stalled_until:
                    self.notifications_dropped += 1
                    return
                self._stalled_until = None
            if self._garbage_left > 0:
                self._garbage_left -= 1
                value = self._rng.bytes(int(self._rng.integers(1, 24)))
        self.notifications_sent += 1
        char.update_value(value)

    def is_subscribed(self, char_uuid: str) -> bool:
        """Whether the client enabled notifications on ``char_uuid``."""
        char = self._chars.get(char_uuid)
        return char is not None and char.notifying and self.connected

    # ------------------------------------------------------------------ BlueZ behaviour

    def announce(self) -> None:
        """Show up in discovery (export the device object, or refresh its RSSI)."""
        if not self.present:
            return
        if not self.exported:
            self._bus.export(self.path, self._device)
            self.exported = True
        elif not self.connected:
            self.rssi_dbm = self.sensor.identity.rssi_dbm + int(self._rng.integers(-4, 5))
            self._device.emit_properties_changed({"RSSI": self.rssi_dbm})

    async def connect(self) -> None:
        """``Device1.Connect``."""
        if self.connected:
            return
        if self._connecting:
            raise _error(GattErrorName.IN_PROGRESS, "In Progress")
        self._connecting = True
        try:
            failure = self._failures.popleft() if self._failures else None
            if failure is ConnectFailure.IN_PROGRESS:
                raise _error(GattErrorName.IN_PROGRESS, "In Progress")
            await asyncio.sleep(self.connect_delay_s)
            if failure is ConnectFailure.ABORT_BY_LOCAL:
                self._set_connected(connected=True)
                await asyncio.sleep(0.01)
                self._set_connected(connected=False)
                raise _error(GattErrorName.FAILED, "le-connection-abort-by-local")
            if failure is ConnectFailure.FAILED:
                raise _error(GattErrorName.FAILED, "Software caused connection abort")
            if not self.present:
                raise _error(GattErrorName.FAILED, "Page Timeout")
            self.connects += 1
            self._set_connected(connected=True)
            self.sensor.attach(self)
            self._resolve_task = asyncio.get_running_loop().create_task(self._resolve())
        finally:
            self._connecting = False

    async def _resolve(self) -> None:
        await asyncio.sleep(self.resolve_delay_s)
        if not self.connected:
            return
        self._export_gatt()
        self.services_resolved = True
        self._device.emit_properties_changed({"ServicesResolved": True})

    def disconnect(self) -> None:
        """``Device1.Disconnect`` or a lost link."""
        if not self.connected:
            return
        self.disconnects += 1
        if self._resolve_task is not None:
            self._resolve_task.cancel()
            self._resolve_task = None
        self.sensor.detach()
        self._unexport_gatt()
        if self.services_resolved:
            self.services_resolved = False
            self._device.emit_properties_changed({"ServicesResolved": False})
        self._set_connected(connected=False)

    def _set_connected(self, *, connected: bool) -> None:
        self.connected = connected
        if self.exported:
            self._device.emit_properties_changed({"Connected": connected})

    def _export_gatt(self) -> None:
        handle = 0x000A
        for service_spec in self.sensor.services():
            service_path = f"{self.path}/service{handle:04x}"
            service = ServiceObject(service_spec.uuid, self.path)
            self._bus.export(service_path, service)
            self._gatt_paths.append((service_path, service))
            handle += 1
            for spec in service_spec.characteristics:
                char_path = f"{service_path}/char{handle:04x}"
                char = CharacteristicInterface(self, spec, service_path)
                self._bus.export(char_path, char)
                self._gatt_paths.append((char_path, char))
                self._chars[spec.uuid] = char
                handle += 3 if spec.can_notify else 2

    def _unexport_gatt(self) -> None:
        for char in self._chars.values():
            char.release_acquired(tell_sensor=False)  # the link is gone: sockets close
        for path, interface in reversed(self._gatt_paths):
            self._bus.unexport(path, interface)
        self._gatt_paths.clear()
        self._chars.clear()

    def _unexport_device(self) -> None:
        if self.exported:
            self._bus.unexport(self.path, self._device)
            self.exported = False

    def remove(self) -> None:
        """``Adapter1.RemoveDevice``: forget the device until it is discovered again."""
        self.disconnect()
        self._unexport_device()


# --------------------------------------------------------------------------- adapter


class AdapterInterface(ServiceInterface):
    """``org.bluez.Adapter1`` of one emulated controller, with discovery."""

    def __init__(self, bus: MessageBus, name: str, address: str) -> None:
        """An adapter ``hciN`` at ``/org/bluez/hciN``."""
        super().__init__(ADAPTER_INTERFACE)
        self._bus = bus
        self.hci_name = name
        self.path = f"/org/bluez/{name}"
        self._address = address
        self._powered = True
        self.discovering = False
        self._sessions = 0
        self.peripherals: dict[str, EmulatedPeripheral] = {}
        self._ticker: asyncio.Task[None] | None = None

    @dbus_property(access=PropertyAccess.READ, name="Address")
    def address(self) -> DBusStr:
        """Controller address."""
        return self._address

    @dbus_property(access=PropertyAccess.READ, name="AddressType")
    def address_type(self) -> DBusStr:
        """Public address."""
        return "public"

    @dbus_property(access=PropertyAccess.READ, name="Name")
    def adapter_name(self) -> DBusStr:
        """System name (the Python name must not shadow ServiceInterface.name)."""
        return "backwatch-emulator"

    @dbus_property(access=PropertyAccess.READ, name="Alias")
    def alias(self) -> DBusStr:
        """Alias."""
        return f"backwatch-emulator {self.hci_name}"

    @dbus_property(access=PropertyAccess.READ, name="Class")
    def device_class(self) -> DBusUInt32:
        """Class of device."""
        return 0

    @dbus_property(access=PropertyAccess.READ, name="Powered")
    def powered(self) -> DBusBool:
        """Powered on."""
        return self._powered

    @dbus_property(access=PropertyAccess.READ, name="Discoverable")
    def discoverable(self) -> DBusBool:
        """Not discoverable."""
        return False

    @dbus_property(access=PropertyAccess.READ, name="Pairable")
    def pairable(self) -> DBusBool:
        """Pairable."""
        return True

    @dbus_property(access=PropertyAccess.READ, name="Discovering")
    def discovering_property(self) -> DBusBool:
        """Whether discovery runs."""
        return self.discovering

    @dbus_property(access=PropertyAccess.READ, name="UUIDs")
    def uuids(self) -> DBusStrList:
        """Local services."""
        return []

    @dbus_property(access=PropertyAccess.READ, name="Modalias")
    def modalias(self) -> DBusStr:
        """Modalias."""
        return "usb:v1D6Bp0246d0548"

    @dbus_property(access=PropertyAccess.READ, name="Roles")
    def roles(self) -> DBusStrList:
        """Bluetooth LE roles: bleak requires ``central``."""
        return ["central", "peripheral"]

    @dbus_method(name="SetDiscoveryFilter")
    def set_discovery_filter(self, properties: DBusDict) -> None:
        """Accept any filter (the emulator announces every device)."""
        del properties

    @dbus_method(name="GetDiscoveryFilters")
    def get_discovery_filters(self) -> DBusStrList:
        """Filters bluetoothd understands."""
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable"]

    @dbus_method(name="StartDiscovery")
    def start_discovery(self) -> None:
        """Start scanning: announce every device in range and keep their RSSI moving."""
        if not self._powered:
            raise _error("org.bluez.Error.NotReady", "Resource Not Ready")
        self._sessions += 1
        if not self.discovering:
            self.discovering = True
            self.emit_properties_changed({"Discovering": True})
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        for peripheral in self.peripherals.values():
            peripheral.announce()

    @dbus_method(name="StopDiscovery")
    def stop_discovery(self) -> None:
        """Stop scanning when the last session ends."""
        if self._sessions == 0:
            raise _error(GattErrorName.FAILED, "No discovery started")
        self._sessions -= 1
        if self._sessions == 0:
            self._stop_ticker()

    @dbus_method(name="RemoveDevice")
    def remove_device(self, device: DBusObjectPath) -> None:
        """Forget a device."""
        for peripheral in self.peripherals.values():
            if peripheral.path == device and peripheral.exported:
                peripheral.remove()
                return
        raise _error("org.bluez.Error.DoesNotExist", "Does Not Exist")

    def _stop_ticker(self) -> None:
        if self.discovering:
            self.discovering = False
            self.emit_properties_changed({"Discovering": False})
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_RSSI_TICK_S)
            for peripheral in self.peripherals.values():
                peripheral.announce()

    def close(self) -> None:
        """Stop discovery and drop every link."""
        self._sessions = 0
        self._stop_ticker()
        for peripheral in self.peripherals.values():
            peripheral.disconnect()


# --------------------------------------------------------------------------- service


class EmulatedBluez:
    """An ``org.bluez`` service on ``bus`` with one or more adapters and emulated sensors."""

    def __init__(
        self, bus: MessageBus, adapters: Sequence[str] = ("hci0",), *, seed: int = 0
    ) -> None:
        """Prepare adapters ``hci0``… (call :meth:`start` to publish them)."""
        self.bus = bus
        self._rng = np.random.default_rng(seed)
        self.adapters = {
            name: AdapterInterface(bus, name, f"00:1A:7D:DA:71:{index:02X}")
            for index, name in enumerate(adapters)
        }

    async def start(self) -> None:
        """Export the adapters and claim ``org.bluez``."""
        for adapter in self.adapters.values():
            self.bus.export(adapter.path, adapter)
        reply = await self.bus.request_name(BLUEZ_SERVICE)
        if reply is not RequestNameReply.PRIMARY_OWNER:
            raise StartError(f"could not own {BLUEZ_SERVICE} on the private bus: {reply.name}")

    def add(
        self, sensor: EmulatedSensor, adapter: str = "hci0", **kwargs: Any
    ) -> EmulatedPeripheral:
        """Put ``sensor`` in range of ``adapter``; returns its fault switches."""
        host = self.adapters[adapter]
        peripheral = EmulatedPeripheral(self.bus, host, sensor, self._rng, **kwargs)
        host.peripherals[peripheral.address] = peripheral
        if host.discovering:
            peripheral.announce()
        return peripheral

    def peripheral(self, address: str, adapter: str = "hci0") -> EmulatedPeripheral:
        """The emulated device with ``address`` on ``adapter``."""
        return self.adapters[adapter].peripherals[address.upper()]

    def close(self) -> None:
        """Stop discovery and drop every link."""
        for adapter in self.adapters.values():
            adapter.close()
