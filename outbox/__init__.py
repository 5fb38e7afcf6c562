"""Sending: publishing activities, fan-out, delivery, and serving actors and collections."""
