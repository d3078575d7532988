SELECT e.stream_id, e.version
FROM events e
JOIN UNNEST($1::text[], $2::int8[]) AS b(stream_id, version)
  ON e.stream_id = b.stream_id AND e.version = b.version
