#!/usr/bin/env python3
"""A stand-in for qemu-system-x86_64 in hvd's component tests.

It does what hvd relies on and nothing else: it keeps the guest lock it
inherits (hvd's liveness signal), serves QMP on the socket named by -qmp
(greeting, qmp_capabilities, query-cpus-fast, cont, system_powerdown,
system_reset, quit, with SHUTDOWN events), and "boots" by appending lines and
the ready marker to the console log named by -chardev ...,logfile=.
How it misbehaves is chosen with -fake-mode:

  boots      boots every time, powers off when asked
  deaf       boots, ignores the power button (the ladder must go on to quit)
  wedged     boots, ignores the power button, quit and SIGTERM (only SIGKILL ends it)
  stalls     prints nothing, ever (a stalled boot)
  stalls-once  prints nothing on its first boot, boots after a reset
  crashes    boots, then exits with status 1 a moment later, unasked
  sheds-lock boots, then closes the guest lock (fd 3) 1.5 s later and runs on:
             an escaped QEMU faking its own exit
  disk-full  boots, then 0.5 s later stops at a write its disk's file system
             has no room for (BLOCK_IO_ERROR nospace, STOP; query-status
             "io-error"), and runs on at the next cont (RESUME)
"""
import json
import os
import signal
import socket
import sys
import threading
import time

args = sys.argv[1:]


def option(flag):
    return args[args.index(flag) + 1] if flag in args else None


def suboption(value, key):
    for part in (value or "").split(","):
        if part.startswith(key + "="):
            return part[len(key) + 1:]
    return None


mode = option("-fake-mode") or "boots"
marker = option("-fake-marker") or "ready"
qmp_path = (option("-qmp") or "").removeprefix("unix:").split(",")[0]
log_path = suboption(option("-chardev"), "logfile")
lock = threading.Lock()
boots = 0
status = "running"
clients = []

if mode == "wedged":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def console(text):
    with open(log_path, "a") as f:
        f.write(text)


def boot():
    global boots
    with lock:
        boots += 1
        n = boots
    if mode == "stalls" or (mode == "stalls-once" and n == 1):
        return
    console(f"fake-qemu: boot {n}\n")
    time.sleep(0.2)
    console(marker + "\n")
    if mode == "crashes":
        time.sleep(0.5)
        os._exit(1)
    if mode == "disk-full" and n == 1:
        time.sleep(0.5)
        io_error()
    if mode == "sheds-lock" and n == 1:
        time.sleep(1.5)
        os.close(3)
        console("fake-qemu: lock dropped\n")


def send(conn, message):
    try:
        conn.sendall((json.dumps(message) + "\r\n").encode())
    except OSError:
        pass


def event(name, data):
    stamp = time.time()
    for c in list(clients):
        send(c, {"event": name, "data": data,
                 "timestamp": {"seconds": int(stamp), "microseconds": int(stamp % 1 * 1e6)}})


def io_error():
    global status
    status = "io-error"
    event("BLOCK_IO_ERROR", {"device": "", "node-name": "hvdisk", "operation": "write", "action": "stop",
                             "nospace": True, "reason": "No space left on device"})
    event("STOP", {})


def power_off(by_guest):
    event("SHUTDOWN", {"guest": by_guest, "reason": "guest-shutdown" if by_guest else "host-qmp-quit"})
    time.sleep(0.1)
    os._exit(0)


def serve(conn):
    global status
    clients.append(conn)
    send(conn, {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}})
    buf = b""
    while True:
        try:
            chunk = conn.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            clients.remove(conn)
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            msg = json.loads(line)
            cmd, ident = msg.get("execute"), msg.get("id")
            result = {}
            if cmd == "query-cpus-fast":
                result = [{"cpu-index": 0, "thread-id": threading.get_native_id()}]
            elif cmd == "query-status":
                result = {"status": status, "running": status == "running"}
            reply = {"return": result}
            if ident is not None:
                reply["id"] = ident
            send(conn, reply)
            if cmd == "cont" and status == "io-error":
                status = "running"
                event("RESUME", {})
            elif cmd == "cont":
                threading.Thread(target=boot, daemon=True).start()
            elif cmd == "system_reset":
                event("RESET", {"guest": False, "reason": "host-qmp-system-reset"})
                threading.Thread(target=boot, daemon=True).start()
            elif cmd == "system_powerdown" and mode not in ("deaf", "wedged"):
                threading.Thread(target=power_off, args=(True,), daemon=True).start()
            elif cmd == "quit" and mode != "wedged":
                power_off(False)


server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(qmp_path)
server.listen(4)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
