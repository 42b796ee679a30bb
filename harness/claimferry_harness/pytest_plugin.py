"""pytest fixtures for running the mock Office Ally server."""
