"""``python -m datalab.client``: the same command line as the ``datalab`` script."""
import sys

from datalab.client.cli import main

sys.exit(main())
