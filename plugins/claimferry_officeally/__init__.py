"""Office Ally: SFTP transport, envelope profile, file naming, reports, payer list."""
