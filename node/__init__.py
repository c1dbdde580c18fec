"""The coopnode application, in rooms by role. Each room imports only the rooms above it in this list (and vocab
and federation); tests/test_layout.py checks it.

- config, urls: node.toml, and the IRIs the node mints.
- store/: the SQLite database, its migrations, and the one owner of each table.
- services/: what the node does: publishing, what an inbound activity means, proposals, hubs, imports.
- commons/: the commons gathered from the proposals feed and the actors: indexes, RDF store, matching.
- runtime: the composition root that builds all of it once, and runs the workers while the node serves.
- web/: the HTTP face: routes, content negotiation, pages and templates.
- cli/: the `coopnode` command, the demo node among its commands."""
