"""The policy document, its loader, and the built-in rules no policy can override."""
