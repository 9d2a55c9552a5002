#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hv_facts
short_description: Gather an hv host's guests, VMF, autostart plan and real-time audit as facts
description:
  - Sets C(ansible_facts.hv) with C(guests) (as C(hv guest list --json)), C(vmf), C(autostart), C(version) and C(rt_audit) (as C(hv rt check --json)).
version_added: "0.13.0"
author: hv developers (@hv-developers)
extends_documentation_fragment:
  - hv.plant.hv
options:
  audit:
    description: Also run the real-time audit (C(hv rt check)).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: What runs where
  hv.plant.hv_facts:
- name: Every RT guest runs
  ansible.builtin.assert:
    that: ansible_facts.hv.guests | selectattr('kind', 'eq', 'rtos') | rejectattr('state', 'eq', 'running') | list | length == 0
'''

RETURN = r'''
ansible_facts:
  description: The host's hv facts under C(hv).
  returned: always
  type: dict
'''

import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hv.plant.plugins.module_utils.hv import HV_COMMON_ARGS, HVClient, HVError, fail


def main():
    args = dict(audit=dict(type='bool', default=True))
    args.update(HV_COMMON_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    client = HVClient(module)
    env = {'HV_ROOT': module.params['hv_root']}
    try:
        facts = {
            'guests': client.get('/v1/guests'),
            'vmf': client.get('/v1/vmf'),
            'autostart': client.get('/v1/autostart'),
        }
    except HVError as e:
        fail(module, e)
    rc, out, err = module.run_command([module.params['hv_bin'], '--version'], environ_update=env)
    facts['version'] = out.strip() if rc == 0 else None
    if module.params['audit']:
        # Exit 1 means a critical finding; the JSON is printed either way.
        rc, out, err = module.run_command([module.params['hv_bin'], 'rt', 'check', '--json'], environ_update=env)
        try:
            facts['rt_audit'] = json.loads(out)
        except ValueError:
            module.fail_json(msg='hv rt check --json printed no JSON (exit %d): %s' % (rc, (err or out).strip()[:500]))
    module.exit_json(changed=False, ansible_facts={'hv': facts})


if __name__ == '__main__':
    main()
