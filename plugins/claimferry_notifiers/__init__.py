"""The built-in notifiers: e-mail over SMTP with STARTTLS, and a signed webhook."""
