//! One retry on a fresh connection, for Redis errors that mean the connection was lost.

use std::time::Duration;

use redis::{RedisError, RedisResult};

/// Whether `error` means the connection was lost (broken pipe, reset, EOF, refused while the
/// connection manager reconnects), so the command may be sent again on a fresh connection.
/// An answer of Redis (a script error, a wrong type) or a response timeout is not.
pub(crate) fn connection_lost(error: &RedisError) -> bool {
    error.is_connection_dropped() && !error.is_timeout()
}

/// Runs `op`, and once more when it failed with a lost connection (the
/// [`ConnectionManager`](redis::aio::ConnectionManager) reconnects on such an error, and the
/// second call waits for that connection), the two within `budget` in all: a request never
/// waits longer than the store's timeout.
pub(crate) async fn retry_once<T, F, Fut>(budget: Duration, mut op: F) -> RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = RedisResult<T>>,
{
    let attempts = async {
        match op().await {
            Err(error) if connection_lost(&error) => {
                tracing::debug!(%error, "Redis connection lost; retrying once on a fresh connection");
                op().await
            }
            other => other,
        }
    };
    tokio::time::timeout(budget, attempts)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the Redis store did not answer in time",
            )))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> RedisError {
        RedisError::from(std::io::Error::from(kind))
    }

    #[test]
    fn lost_connections_are_told_from_refusals() {
        for kind in [
            std::io::ErrorKind::BrokenPipe,
            std::io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::UnexpectedEof,
        ] {
            assert!(connection_lost(&io(kind)), "{kind:?}");
        }
        assert!(!connection_lost(&io(std::io::ErrorKind::TimedOut)));
        let script = RedisError::from((redis::ErrorKind::UnexpectedReturnType, "refused"));
        assert!(!connection_lost(&script));
    }

    #[tokio::test]
    async fn retries_once_and_only_a_lost_connection() {
        let mut calls = 0;
        let result: RedisResult<u8> = retry_once(Duration::from_secs(1), || {
            calls += 1;
            let answer = if calls == 1 {
                Err(io(std::io::ErrorKind::BrokenPipe))
            } else {
                Ok(7)
            };
            async move { answer }
        })
        .await;
        assert_eq!((result.ok(), calls), (Some(7), 2));

        let mut calls = 0;
        let result: RedisResult<u8> = retry_once(Duration::from_secs(1), || {
            calls += 1;
            async { Err(io(std::io::ErrorKind::BrokenPipe)) }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 2, "one retry, not more");

        let mut calls = 0;
        let result: RedisResult<u8> = retry_once(Duration::from_secs(1), || {
            calls += 1;
            async {
                Err(RedisError::from((
                    redis::ErrorKind::UnexpectedReturnType,
                    "no",
                )))
            }
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls, 1, "an answer of Redis is not retried");
    }

    #[tokio::test(start_paused = true)]
    async fn both_attempts_fit_in_the_budget() {
        let started = tokio::time::Instant::now();
        let result: RedisResult<u8> = retry_once(Duration::from_millis(300), || async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(1)
        })
        .await;
        assert!(result.is_err_and(|e| e.is_timeout()));
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }
}
