"""The database, not its tables: where the instance is, engines and transactions, migrations, database failures turned into flowtrail errors, and the handle on the current instance."""
