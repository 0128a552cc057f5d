"""Reading requests for a person: `get`/`list` tables, the one-screen summary, `watch`."""
