"""The coopnode application: config, storage, HTTP routes, pages and the command line."""
