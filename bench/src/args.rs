//! The bench's command line, and how a bootstrap is started under it.

use std::path::PathBuf;

use crate::BoxError;
use tokio::process::Command;

pub(crate) struct Args {
    pub(crate) endpoint: String,
    pub(crate) table: String,
    pub(crate) lambda_dir: PathBuf,
    pub(crate) invocations: usize,
    pub(crate) python: Option<PathBuf>,
    pub(crate) python_dir: Option<PathBuf>,
    pub(crate) out: PathBuf,
    /// Only these functions (all when empty).
    pub(crate) only: Vec<String>,
    /// The I/O floor bootstrap (`io_floor`), measured last when given.
    pub(crate) floor: Option<PathBuf>,
    /// The crates floor bootstrap (`crates_floor`), measured after the I/O floor when given.
    pub(crate) crates_floor: Option<PathBuf>,
    /// A command each bootstrap runs under (strace, valgrind) for profiling runs.
    pub(crate) wrap: Vec<String>,
}

pub(crate) fn parse_args() -> Result<Args, BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut endpoint, mut table, mut lambda_dir) = (None, None, None);
    let (mut python, mut python_dir) = (None, None);
    let mut invocations = 5000;
    let mut out = PathBuf::from("target/bench/report.json");
    let (mut only, mut wrap) = (Vec::new(), Vec::new());
    let (mut floor, mut crates_floor) = (None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => endpoint = Some(value()?),
            "--table" => table = Some(value()?),
            "--lambda-dir" => lambda_dir = Some(PathBuf::from(value()?)),
            "--invocations" => invocations = value()?.parse()?,
            "--python" => python = Some(PathBuf::from(value()?)),
            "--python-dir" => python_dir = Some(PathBuf::from(value()?)),
            "--out" => out = PathBuf::from(value()?),
            "--only" => only = words(&value()?),
            "--floor" => floor = Some(PathBuf::from(value()?)),
            "--crates-floor" => crates_floor = Some(PathBuf::from(value()?)),
            "--wrap" => wrap = words(&value()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(Args {
        endpoint: endpoint.ok_or("--endpoint is required")?,
        table: table.ok_or("--table is required")?,
        lambda_dir: lambda_dir.ok_or("--lambda-dir is required")?,
        invocations: invocations.max(1),
        python,
        python_dir,
        out,
        only,
        floor,
        crates_floor,
        wrap,
    })
}

/// `program`, or `program` run under the `--wrap` command, with an environment like
/// Lambda's: its own few variables, not the caller's, so that nothing of this shell
/// (SSL_CERT_FILE, AWS_CA_BUNDLE, AWS_PROFILE...) changes what is measured.
pub(crate) fn wrapped(wrap: &[String], program: &std::path::Path) -> Command {
    let mut cmd = match wrap.split_first() {
        Some((wrapper, rest)) => {
            let mut cmd = Command::new(wrapper);
            cmd.args(rest).arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC");
    cmd
}

pub(crate) fn words(s: &str) -> Vec<String> {
    s.split([' ', ','])
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}
