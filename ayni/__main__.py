import sys

from ayni.cli import main

sys.exit(main())
