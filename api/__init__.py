"""The HTTP API of the ledger: Litestar controllers, authentication, guards, problem details."""
