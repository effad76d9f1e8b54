//! One retry on a fresh connection, for errors that mean the connection was lost.

/// The longest a PostgreSQL pool waits for a connection, and the bound of one read with its
/// retry (SQLite has no connection to lose and uses its busy timeout).
pub(super) const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether `error` means the connection was lost (an I/O error, a server shutting down or
/// restarting: SQLSTATE classes `08` and `57P`), so the statement may run again on a fresh
/// connection of the pool. A database's answer (a constraint violation), a pool timeout or
/// a closed pool is not.
fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Runs an idempotent statement `op`, once more when the connection was lost, both within
/// [`STORE_TIMEOUT`].
pub(super) async fn retry_once<T, F, Fut>(mut op: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let attempts = async {
        match op().await {
            Err(error) if connection_lost(&error) => {
                tracing::debug!(target: "tower_apikey", %error, "database connection lost; retrying once on a fresh connection");
                op().await
            }
            other => other,
        }
    };
    tokio::time::timeout(STORE_TIMEOUT, attempts)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_told_from_refusals() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(connection_lost(&io));
        assert!(!connection_lost(&sqlx::Error::PoolTimedOut));
        assert!(!connection_lost(&sqlx::Error::PoolClosed));
        assert!(!connection_lost(&sqlx::Error::RowNotFound));
    }

    #[tokio::test]
    async fn retries_a_lost_connection_once() {
        let mut calls = 0;
        let result: Result<u8, _> = retry_once(|| {
            calls += 1;
            let answer = if calls == 1 {
                Err(sqlx::Error::Io(std::io::ErrorKind::UnexpectedEof.into()))
            } else {
                Ok(3)
            };
            async move { answer }
        })
        .await;
        assert_eq!((result.ok(), calls), (Some(3), 2));
        let mut calls = 0;
        let result: Result<u8, _> = retry_once(|| {
            calls += 1;
            async { Err(sqlx::Error::RowNotFound) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1, "an answer of the database is not retried");
    }
}
