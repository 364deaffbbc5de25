"""`python -m shared.localhost`: see shared/localhost/launch.py."""

import sys

from shared.localhost.launch import main

sys.exit(main())
