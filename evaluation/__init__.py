"""Read-side evaluation over the store: periods, the facts of a cohort, the figures."""
