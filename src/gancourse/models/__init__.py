"""Network architectures used in the book."""
