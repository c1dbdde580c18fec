"""The commons: everything this node knows of its own and its followed peers' organisations and proposals, gathered
from the proposals change feed and the actors into SQLite indexes (search, the map, matching) and an RDF store
(SPARQL, embedded pyoxigraph or an external SPARQL 1.1 server), all derived and rebuilt from the authoritative
tables; and the backfill that reads a newly followed actor's collections, with the provenance of what it brings.

May import: node.services, node.store, node.config, node.urls, federation, vocab."""
