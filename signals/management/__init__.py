"""Management commands of the signals app."""
