"""``python -m dcs_contract.cli.app``: the command line."""

import sys

from dcs_contract.cli.app import main

sys.exit(main())
