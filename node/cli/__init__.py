"""The `coopnode` command line: parsing, each command's work on the node the composition root opens, the demo node,
and errors a person can act on.

May import: every other room of node, federation, vocab."""
