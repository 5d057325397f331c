#!/usr/bin/python3
"""A StatusNotifierWatcher for tests, and a small dbusmenu client.

Under Xvfb no desktop provides a tray, so an app's StatusNotifierItem (libayatana-appindicator)
has nowhere to register. `watch` owns org.kde.StatusNotifierWatcher on the session bus and
prints one JSON line per event on stdout:

    {"event": "ready"}
    {"event": "registered", "service": ":1.7", "path": "/org/ayatana/NotificationItem/tripline"}
    {"event": "unregistered", "service": ":1.7", "path": "..."}

The client commands read an item and its menu (com.canonical.dbusmenu):

    sni_watcher.py item SERVICE PATH          -> {"menu": "/…/Menu", "title": …, "status": …, "tooltip": …}
    sni_watcher.py layout SERVICE PATH        -> {"revision": N, "menu": "/…", "items": [{id, label, enabled, visible, type, children}]}
    sni_watcher.py click SERVICE PATH LABEL   -> clicks the first item whose label starts with LABEL

SERVICE/PATH are the item's, as printed by `watch`. Uses python3-dbus and python3-gi (GLib).
"""

import json
import sys
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop

WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM_IFACES = ("org.kde.StatusNotifierItem", "org.freedesktop.StatusNotifierItem")
MENU_IFACE = "com.canonical.dbusmenu"


def emit(**event):
    print(json.dumps(event), flush=True)


class Watcher(dbus.service.Object):
    """org.kde.StatusNotifierWatcher, as a desktop's tray host provides it."""

    def __init__(self, bus):
        self.bus = bus
        self.items = {}  # "service/path" -> (service, path)
        self.hosts = set()
        self.name = dbus.service.BusName(WATCHER, bus, do_not_queue=True)
        super().__init__(bus, WATCHER_PATH)
        bus.add_signal_receiver(
            self._owner_changed,
            signal_name="NameOwnerChanged",
            dbus_interface="org.freedesktop.DBus",
            path="/org/freedesktop/DBus",
        )

    def _owner_changed(self, name, old, new):
        if new:
            return
        for key, (service, path) in list(self.items.items()):
            if service == name or service == old:
                del self.items[key]
                emit(event="unregistered", service=service, path=path)
                self.StatusNotifierItemUnregistered(key)

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        # Items pass either their bus name or their object path (libappindicator does the
        # latter); as KDE's watcher does, a path is taken relative to the caller.
        if service.startswith("/"):
            bus_name, path = sender, service
        else:
            bus_name, path = service, "/StatusNotifierItem"
        key = f"{bus_name}{path}"
        self.items[key] = (bus_name, path)
        emit(event="registered", service=bus_name, path=path)
        self.StatusNotifierItemRegistered(key)

    @dbus.service.method(WATCHER, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierHost(self, service, sender=None):
        self.hosts.add(service)
        self.StatusNotifierHostRegistered()

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemRegistered(self, service):
        pass

    @dbus.service.signal(WATCHER, signature="s")
    def StatusNotifierItemUnregistered(self, service):
        pass

    @dbus.service.signal(WATCHER, signature="")
    def StatusNotifierHostRegistered(self):
        pass

    def _props(self):
        return {
            "RegisteredStatusNotifierItems": dbus.Array(list(self.items), signature="s"),
            # A host is what draws the icons; the app shows its tray only when one is there.
            "IsStatusNotifierHostRegistered": dbus.Boolean(True),
            "ProtocolVersion": dbus.Int32(0),
        }

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, interface, prop):
        props = self._props()
        if interface != WATCHER or prop not in props:
            raise dbus.exceptions.DBusException(
                f"no property {interface}.{prop}", name="org.freedesktop.DBus.Error.UnknownProperty"
            )
        return props[prop]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self._props() if interface == WATCHER else {}

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ssv", out_signature="")
    def Set(self, interface, prop, value):
        raise dbus.exceptions.DBusException(
            "read-only", name="org.freedesktop.DBus.Error.PropertyReadOnly"
        )

    @dbus.service.method(dbus.INTROSPECTABLE_IFACE, in_signature="", out_signature="s")
    def Introspect(self):
        return """<node>
  <interface name="org.kde.StatusNotifierWatcher">
    <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="v" direction="out"/></method>
    <method name="GetAll"><arg type="s" direction="in"/><arg type="a{sv}" direction="out"/></method>
    <method name="Set"><arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="v" direction="in"/></method>
  </interface>
</node>"""


def watch():
    from gi.repository import GLib

    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    Watcher(bus)
    # Some items also look for a host's name on the bus.
    host = dbus.service.BusName(f"org.kde.StatusNotifierHost-{__import__('os').getpid()}", bus)
    emit(event="ready", bus=bus.get_unique_name(), host=host.get_name())
    loop = GLib.MainLoop()
    # Ends with the bus (dbus-run-session) or when the test kills it.
    bus.call_on_disconnection(lambda _: loop.quit())
    loop.run()


def plain(value):
    """D-Bus values to JSON-able Python values."""
    if isinstance(value, (dbus.Boolean,)):
        return bool(value)
    if isinstance(value, (dbus.Int16, dbus.Int32, dbus.Int64, dbus.UInt16, dbus.UInt32, dbus.UInt64, dbus.Byte)):
        return int(value)
    if isinstance(value, (dbus.String, dbus.ObjectPath, dbus.Signature)):
        return str(value)
    if isinstance(value, dbus.Double):
        return float(value)
    if isinstance(value, (dbus.Array, list, tuple, dbus.Struct)):
        return [plain(v) for v in value]
    if isinstance(value, (dbus.Dictionary, dict)):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def item_props(bus, service, path):
    obj = bus.get_object(service, path)
    props = dbus.Interface(obj, dbus.PROPERTIES_IFACE)
    last = None
    for iface in ITEM_IFACES:
        try:
            return iface, plain(props.GetAll(iface))
        except dbus.exceptions.DBusException as error:
            last = error
    raise last


def menu_node(node):
    ident, props, children = node
    props = plain(props)
    return {
        "id": int(ident),
        # GTK mnemonics: "_Open" shows as "Open"; "__" is a literal underscore.
        "label": props.get("label", "").replace("__", "\0").replace("_", "").replace("\0", "_"),
        "enabled": props.get("enabled", True),
        "visible": props.get("visible", True),
        "type": props.get("type", "standard"),
        "children": [menu_node(child) for child in children],
    }


def layout(bus, service, path):
    _, props = item_props(bus, service, path)
    menu_path = props.get("Menu")
    if not menu_path:
        raise SystemExit(f"item {service}{path} has no Menu property: {props}")
    menu = dbus.Interface(bus.get_object(service, menu_path), MENU_IFACE)
    # What a host does before it shows the menu (libdbusmenu builds submenus lazily).
    try:
        menu.AboutToShow(0)
    except dbus.exceptions.DBusException:
        pass
    revision, root = menu.GetLayout(0, -1, dbus.Array([], signature="s"))
    tree = menu_node(root)
    return {"revision": int(revision), "menu": str(menu_path), "items": tree["children"]}


def flatten(items):
    for item in items:
        yield item
        yield from flatten(item["children"])


def click(bus, service, path, label):
    got = layout(bus, service, path)
    for item in flatten(got["items"]):
        if item["type"] != "separator" and item["label"].startswith(label):
            menu = dbus.Interface(bus.get_object(service, got["menu"]), MENU_IFACE)
            menu.Event(
                dbus.Int32(item["id"]),
                "clicked",
                dbus.Int32(0, variant_level=1),
                dbus.UInt32(int(time.time()) & 0xFFFFFFFF),
            )
            return {"clicked": item}
    raise SystemExit(f"no menu item starts with {label!r}: {[i['label'] for i in flatten(got['items'])]}")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    command = argv[1]
    if command == "watch":
        watch()
        return
    bus = dbus.SessionBus()
    if command == "item" and len(argv) == 4:
        iface, props = item_props(bus, argv[2], argv[3])
        print(json.dumps({"interface": iface, "menu": props.get("Menu"), "title": props.get("Title"),
                          "status": props.get("Status"), "id": props.get("Id"),
                          "tooltip": props.get("ToolTip")}))
    elif command == "layout" and len(argv) == 4:
        print(json.dumps(layout(bus, argv[2], argv[3])))
    elif command == "click" and len(argv) == 5:
        print(json.dumps(click(bus, argv[2], argv[3], argv[4])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
