"""The ``onetrip`` command: the composition root (definitions, calendars, store, worker, API, ``onetrip dev``)."""
