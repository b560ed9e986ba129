"""`python -m sim`: run the simulated TWS (see sim.cli)."""

import sys

from sim.cli import main

sys.exit(main())
