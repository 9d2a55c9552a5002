#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: hv_rt_qualify
short_description: Qualify an hv RT-Linux guest's latency and fail on a regression
description:
  - Runs a real-time qualification of a running RT-Linux guest through hvd's API, as C(hv rt qualify) does
    (cyclictest on every vCPU for the whole duration, optionally with the host loaded), waits for its end,
    and returns its figures and the paths of its report (HTML and JSON) on the managed host.
  - The guest's first passing qualification is its baseline; a later one more than 25% worse in max or p99.99
    regressed. The task fails when the run regressed, broke, failed or was cut short, so a play across a plant
    stops at the first host whose real-time behaviour got worse.
  - Each run is a new measurement, so the task always reports a change; in check mode it measures nothing.
version_added: "0.14.0"
author: hv developers (@hv-developers)
extends_documentation_fragment:
  - hv.plant.hv
options:
  name:
    description: The RT-Linux guest's folder or name.
    type: str
    required: true
  duration:
    description: Seconds to measure (10 to 604800; a plant's acceptance uses hours).
    type: int
    default: 43200
  load:
    description: Run stress-ng on the cores no RT guest has (where the KVM guests' vCPUs run) while measuring.
    type: bool
    default: false
  break_us:
    description: Stop at the first latency above this many microseconds (the report keeps the guest's trace).
    type: int
'''

EXAMPLES = r'''
- name: Qualify every controller after the kernel update, one host at a time
  hosts: plant
  serial: 1
  tasks:
    - hv.plant.hv_rt_qualify:
        name: guestrtlinux
        duration: 43200
        load: true
      register: qualification
'''

RETURN = r'''
state:
  description: How the run ended (passed, regressed, broke, stopped, interrupted, failed).
  returned: changed and not in check mode
  type: str
max_us:
  description: The highest latency over every vCPU, in microseconds.
  returned: changed and not in check mode
  type: int
p9999_us:
  description: The 99.99th percentile over every vCPU, in microseconds.
  returned: changed and not in check mode
  type: int
comparison:
  description: The run against the guest's baseline, in words (absent for the first passing run, which becomes it).
  returned: when there is a baseline
  type: str
report_html:
  description: The report's path on the managed host.
  returned: changed and not in check mode
  type: str
report_json:
  description: The same figures as JSON, on the managed host.
  returned: changed and not in check mode
  type: str
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hv.plant.plugins.module_utils.hv import HV_COMMON_ARGS, HVClient, HVError, fail, segment


def main():
    args = dict(
        name=dict(type='str', required=True),
        duration=dict(type='int', default=43200),
        load=dict(type='bool', default=False),
        break_us=dict(type='int'),
    )
    args.update(HV_COMMON_ARGS)
    module = AnsibleModule(argument_spec=args, supports_check_mode=True)
    client = HVClient(module)
    ref = segment(module.params['name'])
    try:
        guest = client.get('/v1/guests/%s' % ref)
        if module.check_mode:
            module.exit_json(changed=True)
        # A guest just started by the play is still booting: a qualification needs its shell.
        deadline = time.time() + 180
        while guest.get('state') == 'running' and not guest.get('booted') and time.time() < deadline:
            time.sleep(2)
            guest = client.get('/v1/guests/%s' % ref)
        body = {'durationSeconds': module.params['duration'], 'load': module.params['load']}
        if module.params['break_us'] is not None:
            body['breakMicroseconds'] = module.params['break_us']
        status = client.post('/v1/guests/%s/qualify' % ref, body, timeout=300)
        deadline = time.time() + module.params['duration'] + 600
        while status['state'] == 'running' and time.time() < deadline:
            time.sleep(5)
            status = client.get('/v1/guests/%s/qualify' % ref)
        result = dict(changed=True, state=status['state'], max_us=status['total']['max'], p9999_us=status['total']['p9999'],
                      report_html=status['reportHTML'], report_json=status['reportJSON'])
        if status.get('comparison'):
            result['comparison'] = status['comparison']['summary']
        if status['state'] != 'passed':
            words = status.get('comparison', {}).get('summary') if status['state'] == 'regressed' else '; '.join(status.get('notes', []))
            module.fail_json(msg='the qualification of %s %s: %s (report: %s)' % (module.params['name'], status['state'], words, status['reportHTML']),
                             **result)
        module.exit_json(**result)
    except HVError as e:
        fail(module, e)


if __name__ == '__main__':
    main()
