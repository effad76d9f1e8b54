//! The [`Throttle`](crate::Throttle)'s counters in Redis: one atomic script call per check
//! or recorded failure, covering the address's and the claimed identity's counters at once.
//!
//! Keys are `prefix{throttle}:<limit>:a:<address>` and `prefix{throttle}:<limit>:i:<identity>`:
//! the one hash tag keeps a request's counters in one cluster slot. Each expires when its
//! bucket is empty again.

use auth_core::ConfigError;

use super::{Connection, MICRO};
use crate::policy::Limit;
use crate::redis::RedisConfig;

/// What Redis says of one counter, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counter {
    /// Until one more failure would conform (0: now).
    pub(crate) wait: u64,
    /// Until the counter is empty.
    pub(crate) reset: u64,
}

pub(crate) struct RedisThrottle {
    redis: Connection,
    script: redis::Script,
}

impl RedisThrottle {
    pub(crate) fn new(config: RedisConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            redis: Connection::new(config)?,
            script: redis::Script::new(include_str!("throttle.lua")),
        })
    }

    /// Looks at (`record` false) or counts one failure against (`record` true) each counter
    /// `(key, limit)`; what each then holds, in the same order.
    pub(crate) async fn run(
        &self,
        counters: &[(&str, &Limit)],
        record: bool,
    ) -> Result<Vec<Counter>, redis::RedisError> {
        let prefix = self.redis.prefix();
        let mut call = self.script.prepare_invoke();
        call.arg(u8::from(record));
        for (key, limit) in counters {
            call.key(format!("{prefix}{{throttle}}:{}:{key}", limit.name()));
            call.arg(limit.interval() / MICRO)
                .arg(limit.tolerance() / MICRO);
        }
        let reply = self.redis.invoke(&call).await?;
        let number = |i: usize| u64::try_from(reply.get(i).copied().unwrap_or(0)).unwrap_or(0);
        Ok((0..counters.len())
            .map(|i| Counter {
                wait: number(2 * i) * MICRO,
                reset: number(2 * i + 1) * MICRO,
            })
            .collect())
    }
}
