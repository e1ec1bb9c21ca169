"""Settings and logging: what every OneTrip process reads and configures first."""
