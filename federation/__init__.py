"""The ActivityPub protocol, pure: HTTP and JSON in, values out. Never touches the database."""
