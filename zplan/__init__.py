"""zplan."""
