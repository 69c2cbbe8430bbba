//! `guard [--grace SECONDS] -- COMMAND [ARGS...]`: runs COMMAND so that it, and everything
//! it starts, ends when guard ends or when guard's parent ends, however that happens.
//! `make dev` and `make test` start every long-lived process through it (DynamoDB Local,
//! cargo lambda watch and its function instances, the stream poller).
//!
//! Teardown by construction, not by the scripts' traps alone:
//! - guard is a child subreaper (`PR_SET_CHILD_SUBREAPER`): a process that COMMAND started
//!   and then lost its own parent is re-parented to guard, not to init, so guard always
//!   sees the whole tree it started;
//! - guard gets SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), even by SIGKILL, and
//!   COMMAND gets SIGKILL if guard itself is killed with SIGKILL;
//! - TERM, INT, HUP and QUIT are handled, never inherited as ignored: COMMAND starts with
//!   the default dispositions (a script started under `nohup` would otherwise pass an
//!   ignored SIGHUP to everything it starts);
//! - on any of them, or when COMMAND exits, guard sends SIGTERM to every process of its tree,
//!   SIGKILL after `--grace` seconds (3 by default) to what is left, and exits once none
//!   is left, with COMMAND's status (128 + signal for a signal).
//!
//! guard also leads a process group of its own, so `kill -- -PID` of it reaches it alone.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

const HANDLED: [libc::c_int; 5] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGCHLD,
];

fn usage() -> ! {
    eprintln!("usage: guard [--grace SECONDS] -- COMMAND [ARGS...]");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut grace = Duration::from_secs(3);
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--grace" => {
                let secs: f64 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| usage());
                grace = Duration::from_secs_f64(secs);
            }
            "--" => {
                command = args.by_ref().collect();
                break;
            }
            _ => usage(),
        }
    }
    if command.is_empty() {
        usage();
    }
    std::process::exit(run(&command, grace));
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset takes valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in HANDLED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

fn run(command: &[String], grace: Duration) -> i32 {
    let parent = std::os::unix::process::parent_id();
    let set = signal_set();
    // SAFETY: plain system calls on this process, with valid arguments.
    unsafe {
        libc::setsid();
        // An inherited SIG_IGN for SIGCHLD would make the kernel reap children unseen.
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
        // Signals are taken with sigtimedwait below, never by a handler.
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    // The parent died before the parent-death signal was armed: nothing to guard for.
    if std::os::unix::process::parent_id() != parent {
        return 129;
    }
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(s, libc::SIG_DFL);
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c.id() as libc::pid_t,
        Err(e) => {
            eprintln!("guard: {}: {e}", command[0]);
            return 127;
        }
    };
    let status = loop {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let timeout = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        // SAFETY: valid set, info and timeout pointers.
        let sig = unsafe { libc::sigtimedwait(&set, &mut info, &timeout) };
        if let Some(code) = reap(Some(child)) {
            break code;
        }
        if sig > 0 && sig != libc::SIGCHLD {
            break 128 + sig;
        }
    };
    teardown(child, grace);
    status
}

/// Reaps every exited child (orphans included); COMMAND's exit code if it was one of them.
fn reap(child: Option<libc::pid_t>) -> Option<i32> {
    let mut code = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return code;
        }
        if Some(pid) == child {
            code = Some(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            });
        }
    }
}

/// Every living process below this one (zombies are reaped, not listed).
fn descendants() -> Vec<libc::pid_t> {
    let me = std::process::id() as libc::pid_t;
    let mut children: HashMap<libc::pid_t, Vec<libc::pid_t>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse().ok());
        if let (Some(state), Some(ppid)) = (state, ppid) {
            if state != "Z" && state != "X" {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut seen = HashSet::new();
    let mut stack = vec![me];
    let mut out = Vec::new();
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            if seen.insert(c) {
                out.push(c);
                stack.push(c);
            }
        }
    }
    out
}

fn signal_all(child: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill with pids read from /proc (a pid gone meanwhile is ESRCH, harmless).
    unsafe {
        libc::kill(-child, sig);
        for p in descendants() {
            libc::kill(p, sig);
        }
    }
}

/// TERM to the whole tree, KILL after `grace` to what is left, until nothing is left.
fn teardown(child: libc::pid_t, grace: Duration) {
    signal_all(child, libc::SIGTERM);
    let started = Instant::now();
    let mut killed = false;
    loop {
        reap(None);
        if descendants().is_empty() {
            return;
        }
        if !killed && started.elapsed() >= grace {
            signal_all(child, libc::SIGKILL);
            killed = true;
        }
        if started.elapsed() >= grace + Duration::from_secs(10) {
            eprintln!("guard: processes still alive after SIGKILL");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
