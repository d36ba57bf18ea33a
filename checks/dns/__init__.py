"""Route 53 checks for the cutover record."""
