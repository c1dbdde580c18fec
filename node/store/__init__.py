"""The store: the SQLite database (aiosqlite, WAL, migrations in plain SQL) and, per table, the one module that
writes it. It knows no HTTP and sends nothing.

May import: node.config, node.urls, federation (the keys and the federation tables' own modules), vocab."""
