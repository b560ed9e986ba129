import sys

from clients.fill.cli import main

sys.exit(main())
