#!/usr/bin/python3
"""Top-level X11 windows of a process, and closing one as a window manager's close button does.

    x11.py windows PID      -> [{"id": 4194311, "name": "Tripline", "mapped": true}, …]
    x11.py close WINDOW_ID  -> sends WM_DELETE_WINDOW (the app may refuse, or hide instead)
    x11.py clipboard        -> {"text": …}: the CLIPBOARD selection's text, as a paste would get it

Under Xvfb there is no window manager, so nothing else would send WM_DELETE_WINDOW (wmctrl's
_NET_CLOSE_WINDOW needs one, and xdotool's `windowclose` destroys the window outright).
Plain ctypes over libX11: no python3-xlib needed. Uses $DISPLAY.
"""

import ctypes
import ctypes.util
import json
import sys

xlib = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11") or "libX11.so.6")

Window = ctypes.c_ulong
Atom = ctypes.c_ulong


class XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", Window),
        ("message_type", Atom),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessageEvent), ("pad", ctypes.c_long * 24)]


class XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
        ("border_width", ctypes.c_int), ("depth", ctypes.c_int), ("visual", ctypes.c_void_p),
        ("root", Window), ("class", ctypes.c_int), ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong), ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int), ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long), ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long), ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


xlib.XOpenDisplay.restype = ctypes.c_void_p
xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
xlib.XDefaultRootWindow.restype = Window
xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
xlib.XInternAtom.restype = Atom
xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
xlib.XQueryTree.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(Window), ctypes.POINTER(Window),
                            ctypes.POINTER(ctypes.POINTER(Window)), ctypes.POINTER(ctypes.c_uint)]
xlib.XGetWindowProperty.argtypes = [ctypes.c_void_p, Window, Atom, ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                    Atom, ctypes.POINTER(Atom), ctypes.POINTER(ctypes.c_int),
                                    ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong),
                                    ctypes.POINTER(ctypes.c_void_p)]
xlib.XGetWindowAttributes.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(XWindowAttributes)]
xlib.XSendEvent.argtypes = [ctypes.c_void_p, Window, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
xlib.XFree.argtypes = [ctypes.c_void_p]
xlib.XFlush.argtypes = [ctypes.c_void_p]
xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]

ANY_PROPERTY_TYPE = 0
IS_VIEWABLE = 2
CLIENT_MESSAGE = 33


def prop(dpy, win, name):
    """A window property's raw bytes and item format, or (None, 0)."""
    atom = xlib.XInternAtom(dpy, name.encode(), 0)
    actual, fmt, nitems, after, data = Atom(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong(), ctypes.c_void_p()
    status = xlib.XGetWindowProperty(dpy, win, atom, 0, 1024, 0, ANY_PROPERTY_TYPE, ctypes.byref(actual),
                                     ctypes.byref(fmt), ctypes.byref(nitems), ctypes.byref(after), ctypes.byref(data))
    if status != 0 or not data.value:
        return None, 0
    try:
        if fmt.value == 8:
            return ctypes.string_at(data.value, nitems.value), 8
        if fmt.value == 32:  # longs in client memory
            return list((ctypes.c_long * nitems.value).from_address(data.value)), 32
        return None, 0
    finally:
        xlib.XFree(data)


def windows(dpy, pid):
    root = xlib.XDefaultRootWindow(dpy)
    root_ret, parent, children, count = Window(), Window(), ctypes.POINTER(Window)(), ctypes.c_uint()
    if not xlib.XQueryTree(dpy, root, ctypes.byref(root_ret), ctypes.byref(parent), ctypes.byref(children),
                           ctypes.byref(count)):
        return []
    found = []
    try:
        for i in range(count.value):
            win = children[i]
            pids, _ = prop(dpy, win, "_NET_WM_PID")
            if not pids or pids[0] != pid:
                continue
            name, _ = prop(dpy, win, "_NET_WM_NAME")
            if name is None:
                name, _ = prop(dpy, win, "WM_NAME")
            protocols, _ = prop(dpy, win, "WM_PROTOCOLS")
            if not protocols:
                continue  # not a client's top-level (GTK's leader and helper windows)
            attrs = XWindowAttributes()
            xlib.XGetWindowAttributes(dpy, win, ctypes.byref(attrs))
            found.append({
                "id": int(win),
                "name": (name or b"").decode("utf-8", "replace"),
                "mapped": attrs.map_state == IS_VIEWABLE,
                "width": attrs.width,
                "height": attrs.height,
            })
    finally:
        if children:
            xlib.XFree(children)
    return found


def close(dpy, win):
    event = XEvent()
    event.xclient.type = CLIENT_MESSAGE
    event.xclient.send_event = 1
    event.xclient.window = win
    event.xclient.message_type = xlib.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
    event.xclient.format = 32
    event.xclient.data[0] = xlib.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
    event.xclient.data[1] = 0  # CurrentTime
    xlib.XSendEvent(dpy, win, 0, 0, ctypes.byref(event))
    xlib.XFlush(dpy)


def clipboard():
    """The CLIPBOARD selection, asked of its owner the way GTK apps paste (python3-gi, GTK 3)."""
    import gi

    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk, Gtk

    Gtk.init([])
    text = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD).wait_for_text()
    print(json.dumps({"text": text}))


def main(argv):
    if argv[1:] == ["clipboard"]:
        clipboard()
        return
    if len(argv) != 3 or argv[1] not in ("windows", "close"):
        raise SystemExit(__doc__)
    dpy = xlib.XOpenDisplay(None)
    if not dpy:
        raise SystemExit("cannot open $DISPLAY")
    try:
        if argv[1] == "windows":
            print(json.dumps(windows(dpy, int(argv[2]))))
        else:
            close(dpy, int(argv[2], 0))
            print(json.dumps({"closed": int(argv[2], 0)}))
    finally:
        xlib.XCloseDisplay(dpy)


if __name__ == "__main__":
    main(sys.argv)
