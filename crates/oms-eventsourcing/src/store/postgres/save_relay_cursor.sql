INSERT INTO relay_cursors (relay, tx, id) VALUES ($1, $2, $3)
ON CONFLICT (relay) DO UPDATE SET tx = EXCLUDED.tx, id = EXCLUDED.id
