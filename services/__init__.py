"""What the API and the command both do to cases and calendars, above the store and the Temporal client."""
