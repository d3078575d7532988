SELECT key, value FROM projections WHERE name = $1
