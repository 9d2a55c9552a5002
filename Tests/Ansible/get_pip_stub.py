"""Stands in for pypa's get-pip.py, which ansible-test downloads from
ci-files.testing.ansible.com (not reachable from here): installs the pip
ansible-test asks for from PyPI, using a pip the host already has (the base
interpreter's, or Debian's python3-pip-whl) to do it. Run by ansible-test in
an empty virtual environment with pip's install options as arguments."""
import glob
import os
import sys

candidates = glob.glob('/usr/share/python-wheels/pip-*.whl')
candidates.append(os.path.join(sys.base_prefix, 'lib', 'python%d.%d' % sys.version_info[:2], 'site-packages'))
candidates.append('/usr/lib/python3/dist-packages')
for path in candidates:
    if os.path.exists(os.path.join(path, 'pip')) or path.endswith('.whl'):
        sys.path.insert(0, path)
        break
from pip._internal.cli.main import main  # noqa: E402

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(main(['install'] + args))
