"""One router per kind of user."""
