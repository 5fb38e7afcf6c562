"""Ayni: a federated ActivityPub server for mutual-aid groups."""

__version__ = "0.1.0"
