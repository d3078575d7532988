INSERT INTO snapshots (name, position, schema_version, state, taken_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (name) DO UPDATE
SET position = excluded.position, schema_version = excluded.schema_version,
    state = excluded.state, taken_at = excluded.taken_at
