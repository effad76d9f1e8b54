//! Running `wrk` (Debian's package) on the load core and reading its result line.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Lua scripts, written next to the token files at start.
const STATIC_LUA: &str = include_str!("../lua/static.lua");
const ROTATE_LUA: &str = include_str!("../lua/rotate.lua");

/// How a row's requests carry their credential.
#[derive(Debug, Clone)]
pub(crate) enum Load {
    /// The same headers on every request.
    Static(Vec<(String, String)>),
    /// A fresh value per request from `files[round]`, one a line: `header: prefix + line`.
    Rotate {
        header: &'static str,
        prefix: &'static str,
        files: Vec<PathBuf>,
    },
}

/// One short run's figures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) requests: u64,
    pub(crate) duration_us: u64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    /// CPU time the server used during the run (filled in by the caller), µs.
    pub(crate) server_cpu_us: u64,
    /// With `--perf`: the kernel's share of the server's CPU samples, ppm (else 0).
    pub(crate) kernel_ppm: u64,
}

impl Run {
    pub(crate) fn rate(&self) -> f64 {
        precise(self.requests) * 1e6 / precise(self.duration_us).max(1.0)
    }

    /// Server CPU time per request, ns.
    pub(crate) fn cpu_ns_per_request(&self) -> u64 {
        self.server_cpu_us * 1000 / self.requests.max(1)
    }
}

/// `u64` as `f64` for rates (exact below 2^53, far above any count here).
pub(crate) fn precise(n: u64) -> f64 {
    n as f64
}

/// The wrk settings shared by every run.
#[derive(Debug, Clone)]
pub(crate) struct Wrk {
    pub(crate) core: u32,
    pub(crate) connections: u32,
    pub(crate) seconds: u32,
    static_lua: PathBuf,
    rotate_lua: PathBuf,
}

impl Wrk {
    /// Installs `wrk` when absent and writes the scripts into `dir`.
    pub(crate) fn new(
        dir: &Path,
        core: u32,
        connections: u32,
        seconds: u32,
    ) -> Result<Self, String> {
        crate::install_if_missing("wrk", "-v", "wrk")?;
        let static_lua = dir.join("static.lua");
        let rotate_lua = dir.join("rotate.lua");
        std::fs::write(&static_lua, STATIC_LUA).map_err(|e| format!("writing static.lua: {e}"))?;
        std::fs::write(&rotate_lua, ROTATE_LUA).map_err(|e| format!("writing rotate.lua: {e}"))?;
        Ok(Self {
            core,
            connections,
            seconds,
            static_lua,
            rotate_lua,
        })
    }

    /// One run of `load` against `url`; refuses any non-2xx answer, socket error or reuse
    /// of a "fresh" credential.
    pub(crate) fn run(&self, url: &str, load: &Load, round: usize) -> Result<Run, String> {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(self.core.to_string()).arg("wrk");
        command
            .arg("-t1")
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", self.seconds));
        match load {
            Load::Static(headers) => {
                for (name, value) in headers {
                    command.arg("-H").arg(format!("{name}: {value}"));
                }
                command.arg("-s").arg(&self.static_lua).arg(url);
            }
            Load::Rotate {
                header,
                prefix,
                files,
            } => {
                let path = reqwest::Url::parse(url)
                    .map_err(|e| format!("{url}: {e}"))?
                    .path()
                    .to_owned();
                command.arg("-s").arg(&self.rotate_lua).arg(url).arg("--");
                command.arg(path).arg(header).arg(prefix).arg(&files[round]);
            }
        }
        let output = command
            .output()
            .map_err(|e| format!("cannot run taskset/wrk: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "wrk failed ({}): {stdout}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        parse(&stdout)
    }
}

fn parse(stdout: &str) -> Result<Run, String> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no RESULT line in wrk's output:\n{stdout}"))?;
    let n: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad RESULT line {line:?}: {e}"))?;
    let [
        requests,
        duration_us,
        p50_us,
        p99_us,
        non2xx,
        connect,
        read,
        write,
        timeout,
        reused,
    ] = n[..]
    else {
        return Err(format!("bad RESULT line {line:?}"));
    };
    if non2xx > 0 {
        return Err(format!(
            "{non2xx} non-2xx answers out of {requests}:\n{stdout}"
        ));
    }
    if connect + read + write + timeout > 0 {
        return Err(format!(
            "socket errors: connect {connect}, read {read}, write {write}, timeout {timeout}"
        ));
    }
    if reused > 0 {
        return Err(format!(
            "{reused} requests reused a token (possible verified-token cache hits): \
             raise --fresh-budget"
        ));
    }
    if requests == 0 {
        return Err("wrk completed no request".to_owned());
    }
    Ok(Run {
        requests,
        duration_us,
        p50_us,
        p99_us,
        server_cpu_us: 0,
        kernel_ppm: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_clean_result_line_parses() {
        let run = parse("Running 2s test\nRESULT 200000 2000000 250 900 0 0 0 0 0 0\n").unwrap();
        assert_eq!(run.requests, 200_000);
        assert_eq!((run.p50_us, run.p99_us), (250, 900));
        assert!((run.rate() - 100_000.0).abs() < 1e-6);
        assert_eq!(run.server_cpu_us, 0);
        let run = super::Run {
            server_cpu_us: 1_500_000,
            ..run
        };
        assert_eq!(run.cpu_ns_per_request(), 7_500);
    }

    #[test]
    fn non_2xx_socket_errors_and_reuse_are_refused() {
        for line in [
            "RESULT 100 1000000 1 2 3 0 0 0 0 0",
            "RESULT 100 1000000 1 2 0 1 0 0 0 0",
            "RESULT 100 1000000 1 2 0 0 0 0 4 0",
            "RESULT 100 1000000 1 2 0 0 0 0 0 7",
            "RESULT 0 1000000 1 2 0 0 0 0 0 0",
            "no result",
        ] {
            assert!(parse(line).is_err(), "{line}");
        }
    }
}
