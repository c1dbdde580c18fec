"""The services: what the node does with what is stored: publishing our activities and proposals, what an inbound
activity means, hubs' re-shares, readers of the proposals change feed, imports.

May import: node.store, node.config, node.urls, federation, vocab."""
