#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hv_vmf
short_description: Load or unload the VMF of an hv host
description:
  - Loads the VMF (the RT cores are taken from the host) with a hypervisor configuration, or unloads it, as C(hv_vmf_start) and C(hv_vmf_stop) do.
version_added: "0.13.0"
author: hv developers (@hv-developers)
extends_documentation_fragment:
  - hv.plant.hv
options:
  state:
    description: Whether the VMF is loaded.
    type: str
    choices: [loaded, unloaded]
    default: loaded
  config:
    description: The hypervisor configuration to load (default HV_ROOT/config/hv.config).
    type: path
  stop_guests:
    description: With C(unloaded), stop running RTOS guests first (without it their running makes the task fail).
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: The VMF is loaded with the host's configuration
  hv.plant.hv_vmf:
    state: loaded
'''

RETURN = r'''
vmf:
  description: The VMF's status after the task.
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hv.plant.plugins.module_utils.hv import HV_COMMON_ARGS, HVClient, HVError, fail


def main():
    args = dict(
        state=dict(type='str', default='loaded', choices=['loaded', 'unloaded']),
        config=dict(type='path'),
        stop_guests=dict(type='bool', default=False),
    )
    args.update(HV_COMMON_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    client = HVClient(module)
    try:
        vmf = client.get('/v1/vmf')
        if module.params['state'] == 'loaded':
            wanted = module.params['config'] or os.path.join(module.params['hv_root'], 'config', 'hv.config')
            if vmf['loaded'] and vmf.get('config') == wanted:
                module.exit_json(changed=False, vmf=vmf)
            if module.check_mode:
                module.exit_json(changed=True, vmf=vmf)
            module.exit_json(changed=True, vmf=client.post('/v1/vmf/load', {'config': wanted}))
        if not vmf['loaded']:
            module.exit_json(changed=False, vmf=vmf)
        if module.check_mode:
            module.exit_json(changed=True, vmf=vmf)
        module.exit_json(changed=True, vmf=client.post('/v1/vmf/unload', {'stopGuests': module.params['stop_guests']}))
    except HVError as e:
        fail(module, e)


if __name__ == '__main__':
    main()
