"""`python -m node`: the coopnode command line."""

from node.cli import main

raise SystemExit(main())
