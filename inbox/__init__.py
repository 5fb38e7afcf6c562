"""Receiving: verify, store, 202; then workers act on what was stored."""
