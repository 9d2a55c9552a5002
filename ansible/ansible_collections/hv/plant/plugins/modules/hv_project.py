#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hv_project
short_description: Make an hv host's configuration a given project
description:
  - The desired project (its hv.config and each guest's guest.config) is given inline or as a folder on the host.
  - hvd compares it with the host's configuration in force (the preview the System Manager's project sync shows).
  - When it differs the project is stored and synced through hvd, which moves what it replaces to backup/ first.
  - Check mode reports what would change and changes nothing; diff mode shows each change.
  - A running guest the project would change makes the task fail with hv's message (stop it first).
version_added: "0.13.0"
author: hv developers (@hv-developers)
extends_documentation_fragment:
  - hv.plant.hv
options:
  name:
    description: The project's name (letters, digits, - and _).
    type: str
    required: true
  hv_config:
    description: The project's hv.config as text.
    type: str
  guests:
    description: Each guest's guest.config as text, by guest folder.
    type: dict
  src:
    description: A folder on the host holding hv.config and guests/FOLDER/guest.config (instead of I(hv_config) and I(guests)).
    type: path
'''

EXAMPLES = r'''
- name: Line 3's controller and HMI
  hv.plant.hv_project:
    name: line3
    hv_config: "{{ lookup('file', 'line3/hv.config') }}"
    guests:
      guestrtlinux: "{{ lookup('file', 'line3/guests/guestrtlinux/guest.config') }}"
'''

RETURN = r'''
changes:
  description: One line per change, as the System Manager's sync preview lists them.
  returned: always
  type: list
  elements: str
affected_guests:
  description: The guest folders the sync writes, creates or moves away.
  returned: always
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hv.plant.plugins.module_utils.hv import HV_COMMON_ARGS, HVClient, HVError, fail, segment

MAX_FILE = 1024 * 1024


def read_text(module, path):
    if not os.path.isfile(path):
        module.fail_json(msg='%s is missing' % path)
    if os.path.getsize(path) > MAX_FILE:
        module.fail_json(msg='%s is larger than %d bytes' % (path, MAX_FILE))
    with open(path, 'rb') as f:
        return f.read().decode('utf-8')


def from_folder(module, src):
    hv_config = read_text(module, os.path.join(src, 'hv.config'))
    guests = {}
    gdir = os.path.join(src, 'guests')
    for folder in sorted(os.listdir(gdir)) if os.path.isdir(gdir) else []:
        path = os.path.join(gdir, folder, 'guest.config')
        if os.path.isfile(path):
            guests[folder] = read_text(module, path)
    return hv_config, guests


def main():
    args = dict(
        name=dict(type='str', required=True),
        hv_config=dict(type='str'),
        guests=dict(type='dict'),
        src=dict(type='path'),
    )
    args.update(HV_COMMON_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True,
                           mutually_exclusive=[('src', 'hv_config'), ('src', 'guests')],
                           required_one_of=[('src', 'hv_config')])
    if module.params['src']:
        hv_config, guests = from_folder(module, module.params['src'])
    else:
        hv_config, guests = module.params['hv_config'], module.params['guests'] or {}
    content = {'hvConfig': hv_config, 'guests': dict((k, str(v)) for k, v in guests.items())}
    name = segment(module.params['name'])
    client = HVClient(module)
    try:
        plan = client.post('/v1/projects/%s/plan' % name, content)
        changes = plan.get('changes', [])
        affected = plan.get('affectedGuests', [])
        diff = {'prepared': '\n'.join(changes) + ('\n' if changes else '')}
        if not changes:
            module.exit_json(changed=False, changes=[], affected_guests=[], diff={'prepared': ''})
        if module.check_mode:
            module.exit_json(changed=True, changes=changes, affected_guests=affected, diff=diff)
        client.put('/v1/projects/%s' % name, content)
        done = client.post('/v1/projects/%s/sync' % name, {'confirm': True})
        module.exit_json(changed=True, changes=done.get('changes', changes), affected_guests=done.get('affectedGuests', affected), diff=diff)
    except HVError as e:
        fail(module, e)


if __name__ == '__main__':
    main()
