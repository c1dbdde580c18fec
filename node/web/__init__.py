"""The web face: the aiohttp application, routes, content negotiation, pages and their templates, and serving it.

May import: node.runtime, node.commons, node.services, node.store, node.config, node.urls, federation, vocab."""
