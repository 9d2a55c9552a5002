#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hv_restore
short_description: Restore an hv guest from its backup archive
description:
  - Brings a guest back from an archive C(hv guest backup) or M(hv.plant.hv_backup) wrote, on this host or another, as
    C(hv guest restore) does. hvd checks the archive's manifest and every checksum before it creates anything, and
    overwrites nothing.
  - Idempotent by the guest's folder name (O(name), else the archive's own); a guest of that name is left as it is.
  - The archive must be root's and not writable by others (what it holds becomes a guest whose scripts run as root).
version_added: "0.13.0"
author: hv developers (@hv-developers)
extends_documentation_fragment:
  - hv.plant.hv
options:
  archive:
    description: The archive's path on the managed host.
    type: path
    required: true
  name:
    description: The folder name to restore the guest as (default the one it had).
    type: str
  timeout:
    description: Seconds the restore may take.
    type: int
    default: 14400
'''

EXAMPLES = r'''
- name: The HMI as it was backed up, under a new name
  hv.plant.hv_restore:
    archive: /hv/backup/guestubuntu-20261205-080000.hvbackup.tar
    name: guestubuntu2
'''

RETURN = r'''
folder:
  description: The restored guest's folder name.
  returned: changed and not in check mode
  type: str
message:
  description: hv's own message about what the restore created.
  returned: changed
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hv.plant.plugins.module_utils.hv import HV_COMMON_ARGS, HVClient, HVError, fail


def main():
    args = dict(
        archive=dict(type='path', required=True),
        name=dict(type='str'),
        timeout=dict(type='int', default=14400),
    )
    args.update(HV_COMMON_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    client = HVClient(module)
    archive = module.params['archive']
    body = {'archive': archive, 'as': module.params['name'], 'confirm': False}
    plan = ''
    try:
        try:
            # Without confirm hvd says what it would create, and creates nothing.
            client.post('/v1/backups/restore', body, timeout=module.params['timeout'])
        except HVError as e:
            if e.code == 'conflict' and ('exists already' in str(e) or 'has an entry' in str(e)):
                module.exit_json(changed=False, msg=str(e))
            if e.code != 'needsConfirmation':
                raise
            plan = str(e).split(' (hint:', maxsplit=1)[0]
        if module.check_mode:
            module.exit_json(changed=True, message=plan)
        body['confirm'] = True
        r = client.post('/v1/backups/restore', body, timeout=module.params['timeout'])
        module.exit_json(changed=True, folder=r['folder'], message=r['message'])
    except HVError as e:
        fail(module, e)


if __name__ == '__main__':
    main()
