INSERT INTO projections (name, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (name, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
