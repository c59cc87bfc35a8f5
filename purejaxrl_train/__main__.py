"""`python -m purejaxrl_train [options]` trains; `python -m purejaxrl_train sweep [options]` sweeps."""

import sys

from purejaxrl_train.cli import main

sys.exit(main())
