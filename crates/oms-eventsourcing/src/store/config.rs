//! Where a service keeps its log: the store URL read into a [`StoreConfig`].

use super::StoreError;

/// Where a service keeps its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// A PostgreSQL database; the service's tables live in `schema`.
    Postgres {
        url: String,
        schema: String,
        max_connections: u32,
    },
    /// A SQLite file (created if missing), or `:memory:`.
    Sqlite { path: String },
}

impl StoreConfig {
    /// Reads `postgres://…?schema=name` / `postgresql://…` or `sqlite://path` /
    /// `sqlite::memory:`. `default_schema` is used when a PostgreSQL URL names none;
    /// `max_connections=N` sizes the pool (8 by default). Other parameters go to the driver.
    pub fn from_url(url: &str, default_schema: &str) -> Result<Self, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(Self::Sqlite { path: path.to_owned() });
        }
        if url == "sqlite::memory:" {
            return Ok(Self::Sqlite {
                path: ":memory:".to_owned(),
            });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (base, query) = url.split_once('?').unwrap_or((url, ""));
            let mut schema = default_schema.to_owned();
            let mut max_connections = 8;
            let mut kept = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair.split_once('=') {
                    Some(("schema", value)) => schema = value.to_owned(),
                    Some(("max_connections", value)) => {
                        max_connections = value.parse().ok().filter(|n| *n >= 2).ok_or_else(|| {
                            StoreError::Config(format!(
                                "max_connections={value:?} in the store URL: give a number of connections, 2 or more"
                            ))
                        })?;
                    }
                    _ => kept.push(pair),
                }
            }
            let url = if kept.is_empty() {
                base.to_owned()
            } else {
                format!("{base}?{}", kept.join("&"))
            };
            validate_schema_name(&schema)?;
            return Ok(Self::Postgres {
                url,
                schema,
                max_connections,
            });
        }
        Err(StoreError::Config(format!(
            "unsupported store URL {url:?}: use postgres://user@host/db?schema=name or sqlite://path/to/file.db"
        )))
    }
}

pub(crate) fn validate_schema_name(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if valid {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "schema name {schema:?} must be lower-case letters, digits and underscores, starting with a letter"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_names_the_schema_and_the_pool_size_and_keeps_the_rest() {
        let config = StoreConfig::from_url(
            "postgres://oms@db/oms?sslmode=require&schema=routing&max_connections=4",
            "ignored",
        )
        .unwrap();
        let StoreConfig::Postgres {
            url,
            schema,
            max_connections,
        } = config
        else {
            panic!("a PostgreSQL store")
        };
        assert_eq!(url, "postgres://oms@db/oms?sslmode=require");
        assert_eq!(schema, "routing");
        assert_eq!(max_connections, 4);
        let StoreConfig::Postgres {
            schema,
            max_connections,
            ..
        } = StoreConfig::from_url("postgres://oms@db/oms", "orders").unwrap()
        else {
            panic!("a PostgreSQL store")
        };
        assert_eq!((schema.as_str(), max_connections), ("orders", 8));
    }

    #[test]
    fn a_bad_pool_size_is_refused_naming_it() {
        for bad in ["x", "1", "-3"] {
            let error = StoreConfig::from_url(&format!("postgres://db/oms?max_connections={bad}"), "orders")
                .unwrap_err()
                .to_string();
            assert!(error.contains("max_connections"), "{error}");
        }
    }
}
