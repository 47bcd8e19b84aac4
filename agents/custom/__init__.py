"""Custom strategies in plain English: generation, layered review, approval and the sandbox."""
