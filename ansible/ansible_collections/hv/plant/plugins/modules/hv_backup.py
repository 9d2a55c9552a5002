#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hv_backup
short_description: Write a backup archive of an hv guest
description:
  - Writes one self-contained archive of a guest (its disk as qcow2, its folder, its hv.config entry and a manifest with
    checksums) through hvd's API, as C(hv guest backup) does, also while the guest runs (its disk as one moment's).
  - Each run writes a new archive, so the task always reports a change; in check mode it writes nothing.
version_added: "0.13.0"
author: hv developers (@hv-developers)
extends_documentation_fragment:
  - hv.plant.hv
options:
  name:
    description: The guest's folder or name.
    type: str
    required: true
  dest:
    description: The folder on the managed host to write the archive to (default HV_ROOT/backup).
    type: path
  timeout:
    description: Seconds the backup may take.
    type: int
    default: 14400
'''

EXAMPLES = r'''
- name: A backup of the HMI before its update
  hv.plant.hv_backup:
    name: guestubuntu
  register: hmi_backup

- name: Fetch it to the controller
  ansible.builtin.fetch:
    src: "{{ hmi_backup.archive }}"
    dest: backups/
'''

RETURN = r'''
archive:
  description: The archive's path on the managed host.
  returned: changed and not in check mode
  type: str
bytes:
  description: The archive's size.
  returned: changed and not in check mode
  type: int
message:
  description: hv's own message about the backup.
  returned: changed and not in check mode
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hv.plant.plugins.module_utils.hv import HV_COMMON_ARGS, HVClient, HVError, fail, segment


def main():
    args = dict(
        name=dict(type='str', required=True),
        dest=dict(type='path'),
        timeout=dict(type='int', default=14400),
    )
    args.update(HV_COMMON_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    client = HVClient(module)
    ref = segment(module.params['name'])
    try:
        client.get('/v1/guests/%s' % ref)
        if module.check_mode:
            module.exit_json(changed=True)
        r = client.post('/v1/guests/%s/backup' % ref, {'to': module.params['dest']}, timeout=module.params['timeout'])
        module.exit_json(changed=True, archive=r['archive'], bytes=r['bytes'], message=r['message'])
    except HVError as e:
        fail(module, e)


if __name__ == '__main__':
    main()
