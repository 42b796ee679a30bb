"""Plugin registrations (filled in as the plugin lands)."""
