"""The boards: global, friends and weekly, read from the Redis index or the database, and the
writes that keep them in step."""
