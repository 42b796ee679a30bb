"""claimferry plugin: any SFTP clearinghouse from a YAML profile, secrets from a command."""
