#!/usr/bin/python3
"""A desktop notification server for tests: owns org.freedesktop.Notifications on the
session bus (under Xvfb no desktop provides one) and prints one JSON line per event:

    {"event": "ready"}
    {"event": "notify", "app": "tripline-desktop", "summary": "web deployed", "body": "…", "id": 1}

It answers what a client asks first (capabilities, server information), as a desktop's
notification daemon does, and shows nothing. Uses python3-dbus and python3-gi (GLib).
"""

import json

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


def emit(**event):
    print(json.dumps(event), flush=True)


class Notifications(dbus.service.Object):
    """org.freedesktop.Notifications, version 1.2 of the specification."""

    def __init__(self, bus):
        self.name = dbus.service.BusName(NAME, bus, do_not_queue=True)
        self.next_id = 1
        super().__init__(bus, PATH)

    @dbus.service.method(NAME, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body"]

    @dbus.service.method(NAME, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("tripline-e2e", "tripline", "1", "1.2")

    @dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        notification = int(replaces) or self.next_id
        self.next_id = max(self.next_id, notification) + 1
        emit(event="notify", app=str(app), summary=str(summary), body=str(body), id=notification)
        return notification

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, notification):
        self.NotificationClosed(notification, 3)

    @dbus.service.signal(NAME, signature="uu")
    def NotificationClosed(self, notification, reason):
        pass


def main():
    from gi.repository import GLib

    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    server = Notifications(bus)
    emit(event="ready")
    loop = GLib.MainLoop()
    # Ends with the bus (dbus-run-session) or when the test kills it.
    bus.call_on_disconnection(lambda _: loop.quit())
    loop.run()
    del server


if __name__ == "__main__":
    main()
