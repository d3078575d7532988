SELECT position, stream_id, version, event_id, event_type, schema_version, payload,
       recorded_at, correlation_id, causation_id, traceparent
FROM events
WHERE position > ?1 AND position <= ?2
ORDER BY position
LIMIT ?3
