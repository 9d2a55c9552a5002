# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hv collection's client for hvd's API: HTTP/1.1 + JSON on the Unix
socket HV_ROOT/run/hvd.sock (root only). hvd is started through the hv
command when it is not running (as every hv command does)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import socket

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

HV_COMMON_ARGS = dict(
    hv_root=dict(type='path', default='/hv'),
    hv_bin=dict(type='path', default='hv'),
)

MAX_RESPONSE = 16 * 1024 * 1024


class HVError(Exception):
    """An error hvd answered with: its message and hint, as hv prints them."""

    def __init__(self, status, code, message, hint=None):
        self.status = status
        self.code = code
        self.hint = hint
        text = message + ((' (hint: %s)' % hint) if hint else '')
        super(HVError, self).__init__(text)


def segment(value):
    return quote(value, safe='')


class HVClient(object):
    def __init__(self, module):
        self.module = module
        self.root = module.params['hv_root']
        self.hv_bin = module.params['hv_bin']
        self.socket_path = os.path.join(self.root, 'run', 'hvd.sock')

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(900)
        s.connect(self.socket_path)
        return s

    def _ensure_daemon(self):
        try:
            self._connect().close()
            return
        except (OSError, socket.error):
            pass
        # Any hv command starts hvd (or asks systemd to, where hvd.service is installed).
        rc, out, err = self.module.run_command([self.hv_bin, 'vmf', 'status'], environ_update={'HV_ROOT': self.root})
        if rc != 0:
            raise HVError(0, 'daemonUnavailable', 'could not start hvd for %s: %s' % (self.root, (err or out).strip()))

    def request(self, method, path, body=None, timeout=900):
        self._ensure_daemon()
        data = json.dumps(body).encode('utf-8') if body is not None else b''
        head = '%s %s HTTP/1.1\r\nHost: hvd\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' % (
            method, path, len(data))
        s = self._connect()
        s.settimeout(timeout)
        try:
            s.sendall(head.encode('ascii') + data)
            chunks = []
            total = 0
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
                total += len(c)
                if total > MAX_RESPONSE:
                    raise HVError(0, 'io', 'hvd answered more than %d bytes to %s %s' % (MAX_RESPONSE, method, path))
                raw = b''.join(chunks)
                if b'\r\n\r\n' in raw:
                    headers, rest = raw.split(b'\r\n\r\n', 1)
                    length = None
                    for line in headers.split(b'\r\n')[1:]:
                        name, dummy, value = line.partition(b':')
                        if name.strip().lower() == b'content-length':
                            length = int(value.strip())
                    if length is not None and len(rest) >= length:
                        break
        finally:
            s.close()
        raw = b''.join(chunks)
        headers, dummy, payload = raw.partition(b'\r\n\r\n')
        status_line = headers.split(b'\r\n', 1)[0].decode('ascii', 'replace')
        try:
            status = int(status_line.split(' ')[1])
        except (IndexError, ValueError):
            raise HVError(0, 'io', 'hvd answered something that is not HTTP: %r' % status_line[:80])
        text = payload.decode('utf-8', 'replace')
        if status != 200:
            try:
                err = json.loads(text)
                raise HVError(status, err.get('code'), err.get('message', text), err.get('hint'))
            except ValueError:
                raise HVError(status, 'io', 'hvd answered %d to %s %s: %s' % (status, method, path, text[:300]))
        if text and 'json' in headers.decode('latin-1').lower():
            return json.loads(text)
        return text

    def get(self, path):
        return self.request('GET', path)

    def post(self, path, body, timeout=900):
        return self.request('POST', path, body, timeout=timeout)

    def put(self, path, body):
        return self.request('PUT', path, body)


def fail(module, error, **result):
    """An hv error as an Ansible failure, with hv's own message and hint."""
    module.fail_json(msg=str(error), hv_code=getattr(error, 'code', None), hint=getattr(error, 'hint', None), **result)
