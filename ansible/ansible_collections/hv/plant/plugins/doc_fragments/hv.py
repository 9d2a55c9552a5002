# -*- coding: utf-8 -*-
# Copyright: hv developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The options every hv.plant module takes: which host root, which hv command.
    DOCUMENTATION = r'''
options:
  hv_root:
    description: The host's hv root.
    type: path
    default: /hv
  hv_bin:
    description: The hv command (it starts hvd when hvd is not running).
    type: path
    default: hv
'''
