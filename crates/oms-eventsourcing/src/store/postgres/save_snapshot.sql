INSERT INTO snapshots (name, position, schema_version, state, taken_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO UPDATE
SET position = EXCLUDED.position, schema_version = EXCLUDED.schema_version,
    state = EXCLUDED.state, taken_at = EXCLUDED.taken_at
