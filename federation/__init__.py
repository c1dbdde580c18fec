"""ActivityPub protocol mechanics: keys, signatures, remote fetch, delivery; no application meaning."""
