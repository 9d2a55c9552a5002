#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hv_guest
short_description: Start, stop, restart or delete an hv guest
description:
  - Drives one guest of an hv host through hvd's API, as C(hv guest start|stop|restart|delete) do.
  - C(absent) moves the guest's folder (and a disk in it) to backup/, as hv does; a running guest is refused.
version_added: "0.13.0"
author: hv developers (@hv-developers)
extends_documentation_fragment:
  - hv.plant.hv
options:
  name:
    description: The guest's folder or name.
    type: str
    required: true
  state:
    description: What the guest should be.
    type: str
    choices: [started, stopped, restarted, absent]
    default: started
  force:
    description: With C(stopped), skip the graceful shutdown.
    type: bool
    default: false
  wait:
    description: With C(started) and C(restarted), return once the guest is up.
    type: bool
    default: true
  timeout:
    description: Seconds a start may take to come up.
    type: int
    default: 600
'''

EXAMPLES = r'''
- name: RT-Linux runs
  hv.plant.hv_guest:
    name: guestrtlinux
    state: started
'''

RETURN = r'''
guest:
  description: The guest's status after the task (as C(hv guest status) prints it).
  returned: when the guest exists
  type: dict
message:
  description: hv's own message about what it did.
  returned: when something was done
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hv.plant.plugins.module_utils.hv import HV_COMMON_ARGS, HVClient, HVError, fail, segment

DOWN = ('stopped', 'crashed')


def main():
    args = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='started', choices=['started', 'stopped', 'restarted', 'absent']),
        force=dict(type='bool', default=False),
        wait=dict(type='bool', default=True),
        timeout=dict(type='int', default=600),
    )
    args.update(HV_COMMON_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    client = HVClient(module)
    ref = segment(module.params['name'])
    state = module.params['state']
    try:
        try:
            guest = client.get('/v1/guests/%s' % ref)
        except HVError as e:
            if state == 'absent' and e.status == 404:
                module.exit_json(changed=False)
            raise
        current = guest['state']
        if state == 'started' and current not in DOWN:
            module.exit_json(changed=False, guest=guest)
        if state == 'stopped' and current in DOWN:
            module.exit_json(changed=False, guest=guest)
        if module.check_mode:
            module.exit_json(changed=True, guest=guest)
        start = {'wait': module.params['wait'], 'timeoutSeconds': min(module.params['timeout'], 3600)}
        if state == 'started':
            r = client.post('/v1/guests/%s/start' % ref, start)
        elif state == 'stopped':
            r = client.post('/v1/guests/%s/stop' % ref, {'force': module.params['force']})
        elif state == 'restarted':
            if current in DOWN:
                r = client.post('/v1/guests/%s/start' % ref, start)
            elif guest.get('kind') == 'kvm':
                client.post('/v1/guests/%s/stop' % ref, {'force': False})
                r = client.post('/v1/guests/%s/start' % ref, start)
            else:
                r = client.post('/v1/guests/%s/restart' % ref, start)
        else:
            r = client.post('/v1/guests/%s/delete' % ref, {'confirm': True})
            module.exit_json(changed=True, message=r.get('message'), backup=r.get('backup'))
        module.exit_json(changed=True, message=r.get('message'), guest=r.get('guest'))
    except HVError as e:
        fail(module, e)


if __name__ == '__main__':
    main()
