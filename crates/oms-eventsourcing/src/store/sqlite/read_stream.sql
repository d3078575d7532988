SELECT position, stream_id, version, event_id, event_type, schema_version, payload,
       recorded_at, correlation_id, causation_id, traceparent
FROM events
WHERE stream_id = ?1 AND version >= ?2 AND (?3 IS NULL OR recorded_at <= ?3)
ORDER BY version
