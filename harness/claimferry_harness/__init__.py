"""The mock Office Ally SFTP server for end-to-end tests."""
