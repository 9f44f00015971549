"""Small building blocks with no registry behind them: ids, keys, params, hashes, formats."""
