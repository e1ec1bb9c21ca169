"""The Temporal worker process: workflows and activities registered, outbox delivery, calendar refresh."""
