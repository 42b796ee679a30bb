"""Built-in credential sources: env, file, keyring, store."""
