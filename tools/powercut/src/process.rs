//! Child processes under test: started with their output captured, waited for with a deadline,
//! and killed with SIGKILL at the moment the driver chose, without the pid-reuse race of killing
//! a process that was already reaped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;

/// Something that happened to a running child.
enum Event {
    /// The child printed the awaited line on standard error.
    Marker,
    /// The child is dead (not yet reaped: it stays a zombie until [`Running::finish`]).
    Exited,
}

/// A child process being watched.
pub struct Running {
    child: Child,
    events: Receiver<Event>,
    exited: bool,
    marked: bool,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<String>>>,
}

/// A child that is gone, and what it said.
pub struct Finished {
    pub status: ExitStatus,
    /// Whether it was killed by the driver rather than exiting by itself.
    pub killed: bool,
    pub stdout: String,
    pub stderr: Vec<String>,
}

impl Finished {
    pub fn success(&self) -> bool {
        !self.killed && self.status.success()
    }

    /// The last lines of standard error, for a message.
    pub fn stderr_tail(&self) -> String {
        let start = self.stderr.len().saturating_sub(3);
        self.stderr[start..].join(" | ")
    }
}

impl Running {
    /// Starts `command` with standard output and error captured. When `marker` is given, each
    /// line of standard error is searched for it (see [`Running::wait_for_marker`]).
    pub fn spawn(mut command: Command, marker: Option<&'static str>) -> std::io::Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (sender, events) = mpsc::channel();
        let pid = Pid::from_raw(child.id() as i32);
        let exit_sender = sender.clone();
        std::thread::spawn(move || {
            // WNOWAIT: wait for the death without reaping, so the pid stays ours until the
            // driver reaps it, and a SIGKILL can never reach another process.
            let _ = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT);
            let _ = exit_sender.send(Event::Exited);
        });
        let mut stdout_pipe = child.stdout.take().expect("stdout is piped");
        let stdout = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stdout_pipe.read_to_end(&mut bytes);
            bytes
        });
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || read_lines(stderr_pipe, marker, sender));
        Ok(Running {
            child,
            events,
            exited: false,
            marked: false,
            stdout: Some(stdout),
            stderr: Some(stderr),
        })
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn next_event(&mut self, deadline: Instant) -> bool {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(wait) {
            Ok(Event::Exited) => {
                self.exited = true;
                true
            }
            Ok(Event::Marker) => {
                self.marked = true;
                true
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => false,
        }
    }

    /// Waits up to `timeout` for the child to exit; true if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.exited {
            if !self.next_event(deadline) {
                break;
            }
        }
        self.exited
    }

    /// Waits up to `timeout` for the marker line; false if the child exited first or the time
    /// ran out.
    pub fn wait_for_marker(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.marked && !self.exited {
            if !self.next_event(deadline) {
                break;
            }
        }
        self.marked
    }

    /// Sends SIGTERM (an orderly stop) unless the child is already dead.
    pub fn terminate(&mut self) {
        if !self.exited {
            let _ = kill(self.pid(), Signal::SIGTERM);
        }
    }

    /// SIGKILLs the child unless it already died, reaps it and collects its output.
    pub fn kill(mut self) -> Finished {
        let killed = !self.exited;
        if killed {
            // Not reaped yet (only `finish` reaps), so the pid is still this child's.
            let _ = self.child.kill();
        }
        self.finish(killed)
    }

    /// Waits for the child to exit by itself (bounded by `timeout`, then killed) and collects
    /// its output.
    pub fn wait(mut self, timeout: Duration) -> Finished {
        if self.wait_exit(timeout) {
            self.finish(false)
        } else {
            self.kill()
        }
    }

    fn finish(mut self, killed: bool) -> Finished {
        let status = self.child.wait().expect("a child of ours can be reaped");
        let stdout = self
            .stdout
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        Finished {
            status,
            killed,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A child must never outlive the mount it writes to.
        if self.stdout.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_lines(pipe: impl Read, marker: Option<&'static str>, events: Sender<Event>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut marked = false;
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        if !marked && marker.is_some_and(|marker| line.contains(marker)) {
            marked = true;
            let _ = events.send(Event::Marker);
        }
        lines.push(line);
    }
    lines
}
