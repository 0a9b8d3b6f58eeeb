"""One construct per tier of the service."""
