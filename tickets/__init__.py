"""Support tickets: storage, notifications, and the staff command line and HTTP API."""
