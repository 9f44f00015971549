"""A run's life: tracking, scripts, the sqlite3 fast path, run context, journal, reaping."""
