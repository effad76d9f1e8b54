//! One retry on a fresh connection, for Redis errors that mean the connection was lost.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{RedisError, RedisResult, ScriptInvocation};

/// Whether `error` means the connection was lost (broken pipe, reset, EOF, refused while the
/// connection manager reconnects); an answer of Redis or a response timeout is not.
fn connection_lost(error: &RedisError) -> bool {
    error.is_connection_dropped() && !error.is_timeout()
}

/// Runs the lease script, once more when the connection was lost (the manager reconnects
/// on such an error; a Redis restarted empty has no script, which `invoke_async` reloads),
/// both attempts within `timeout`. If the lost call did run, this identity is charged for
/// two leases (refusing early) and a returned budget is credited twice (at most one
/// lease's worth).
pub(super) async fn invoke(
    call: &ScriptInvocation<'_>,
    conn: &ConnectionManager,
    timeout: Duration,
) -> RedisResult<Vec<i64>> {
    let attempts = async {
        match call.invoke_async::<Vec<i64>>(&mut conn.clone()).await {
            Err(error) if connection_lost(&error) => {
                tracing::debug!(target: "tower_ratelimit", %error, "Redis connection lost; retrying once on a fresh connection");
                call.invoke_async(&mut conn.clone()).await
            }
            other => other,
        }
    };
    tokio::time::timeout(timeout, attempts)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the rate-limit store did not answer in time",
            )))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_told_from_refusals() {
        let io = |kind: std::io::ErrorKind| RedisError::from(std::io::Error::from(kind));
        assert!(connection_lost(&io(std::io::ErrorKind::BrokenPipe)));
        assert!(connection_lost(&io(std::io::ErrorKind::ConnectionReset)));
        assert!(!connection_lost(&io(std::io::ErrorKind::TimedOut)));
        let script = RedisError::from((redis::ErrorKind::UnexpectedReturnType, "refused"));
        assert!(!connection_lost(&script));
    }
}
