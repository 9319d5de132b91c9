"""Report writers: the verifier package."""
