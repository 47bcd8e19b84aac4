"""The dispatcher and generators processes."""
