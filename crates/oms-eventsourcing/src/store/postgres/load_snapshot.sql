SELECT position, schema_version, state, taken_at FROM snapshots WHERE name = $1
