"""The SQL store: the supervision feed (``events``) and the projections read by the API.

Only activities write here (:mod:`store.writes`), one transaction per batch of events; the API
reads through :mod:`store.queries`. SQLite is the embedded default, PostgreSQL the production
backend; the schema is created and upgraded by the Alembic migrations in ``store/migrations``
(:func:`store.db.migrate`). Workflow code never imports this package.
"""
