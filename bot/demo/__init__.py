"""`steadfast demo`: the whole product on a laptop, offline, on emulators and SQLite."""
