"""`python -m node`: the coopnode command line."""

from node.cli.main import main

raise SystemExit(main())
