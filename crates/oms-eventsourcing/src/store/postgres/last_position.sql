SELECT COALESCE(MAX(position), 0) FROM events
