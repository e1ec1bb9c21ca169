"""Processes and wiring: settings, logging, the ``onetrip`` command line."""
