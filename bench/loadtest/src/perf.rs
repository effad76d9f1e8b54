//! `--perf`: the server sampled with `perf record -e cpu-clock` during each run, to read
//! which share of its CPU time the kernel took.
//!
//! On a host whose speed swings between seconds (other tenants), req/s and CPU time per
//! request swing with it, but the *split* of one run's CPU time between kernel and user
//! space does not: a slower second slows both alike. Every row sends one small request and
//! gets one small answer over a kept-alive loopback connection, so the kernel's work per
//! request is the same for all of them, and a row whose kernel share is `k` costs
//! `k_health / k` times what `/health` costs: the kernel-normalised ratio of the table.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Runs `perf record` beside each wrk run.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    dir: PathBuf,
}

impl Sampler {
    /// Installs Debian's `linux-perf` when `perf` is absent and checks that it may sample.
    pub(crate) fn new(dir: &Path) -> Result<Self, String> {
        crate::install_if_missing("perf", "--version", "linux-perf")?;
        let probe = Command::new("perf")
            .args(["record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run perf: {e}"))?;
        if !probe.status.success() {
            return Err(format!(
                "perf cannot sample here (see /proc/sys/kernel/perf_event_paranoid): {}",
                String::from_utf8_lossy(&probe.stderr)
            ));
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Samples process `pid` in the background until [`Recording::kernel_ppm`]. (Not for a
    /// fixed time: a Lua row's wrk reads its token file before it starts sending.)
    pub(crate) fn start(&self, pid: u32) -> Result<Recording, String> {
        let file = self.dir.join("perf.data");
        let child = Command::new("perf")
            .args(["record", "-q", "-e", "cpu-clock", "-F", "1999", "-p"])
            .arg(pid.to_string())
            .arg("-o")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start perf record: {e}"))?;
        Ok(Recording { child, file })
    }
}

/// A `perf record` under way.
#[derive(Debug)]
pub(crate) struct Recording {
    child: Child,
    file: PathBuf,
}

impl Recording {
    /// Stops the recording and returns the kernel's share of the samples, in parts per
    /// million.
    pub(crate) fn kernel_ppm(mut self) -> Result<u64, String> {
        // SIGINT: perf writes its file and exits.
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("cannot stop perf record: {e}"))?;
        // It ends by that signal (status 130), so its status says nothing: the report does.
        self.child.wait().map_err(|e| format!("perf record: {e}"))?;
        let report = Command::new("perf")
            .args(["report", "--stdio", "-q", "--sort", "dso", "-i"])
            .arg(&self.file)
            .output()
            .map_err(|e| format!("cannot run perf report: {e}"))?;
        let _ = std::fs::remove_file(&self.file);
        let stdout = String::from_utf8_lossy(&report.stdout);
        kernel_ppm(&stdout).ok_or_else(|| {
            format!(
                "perf report shows no kernel samples: {stdout}{}",
                String::from_utf8_lossy(&report.stderr)
            )
        })
    }
}

/// A recording abandoned on an error path stops with the harness.
impl Drop for Recording {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `[kernel.kallsyms]` line of `perf report --sort dso -q`, e.g. `  56.02%  [kernel.kallsyms]`.
fn kernel_ppm(report: &str) -> Option<u64> {
    report.lines().find_map(|line| {
        let (percent, dso) = line.trim().split_once('%')?;
        if dso.trim() != "[kernel.kallsyms]" {
            return None;
        }
        let percent: f64 = percent.trim().parse().ok()?;
        Some((percent * 10_000.0).round() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::kernel_ppm;

    #[test]
    fn the_kernel_line_is_read_whatever_its_rank() {
        let report = "\n    37.06%  demo             \n    56.02%  [kernel.kallsyms]\n     6.39%  libc.so.6\n";
        assert_eq!(kernel_ppm(report), Some(560_200));
        assert_eq!(kernel_ppm("    99.00%  demo\n"), None);
        assert_eq!(kernel_ppm(""), None);
    }
}
