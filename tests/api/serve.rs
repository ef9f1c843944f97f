//! The `million` binary itself: `serve` with a configured or an embedded
//! database, graceful shutdown, `config`, and start-up errors.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::StatusCode;

use crate::helpers::TestDatabase;

fn million() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_million"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("APP_ENVIRONMENT", "local")
        .env("APP__APPLICATION__DATA_DIR", data_dir())
        .stdin(Stdio::null());
    command
}

/// Where the commands of this test run keep their generated secrets.
fn data_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_until_healthy(child: &mut Child, port: u16, timeout: Duration) {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("million exited early with {status}");
        }
        if let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && response.status() == StatusCode::OK
        {
            return;
        }
        assert!(
            started.elapsed() < timeout,
            "million did not become healthy in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("million did not stop within 30s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_uses_the_configured_database_and_stops_on_sigterm() {
    let db = TestDatabase::create().await;
    let port = free_port();
    let mut child = million()
        .arg("serve")
        .env("DATABASE_URL", &db.conninfo)
        .env("APP__APPLICATION__PORT", port.to_string())
        .env("APP__APPLICATION__INSTANCE_NAME", "app-under-test")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_healthy(&mut child, port, Duration::from_secs(30)).await;

    let page = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap();
    let served_by = page.headers()["x-served-by"].to_str().unwrap().to_string();
    let status = stop(&mut child);

    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(served_by, "app-under-test");
    assert!(status.success(), "a clean exit on SIGTERM: {status}");
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_err(),
        "the port is closed"
    );
}

#[tokio::test]
async fn in_flight_requests_finish_during_a_graceful_shutdown() {
    let db = TestDatabase::create().await;
    let port = free_port();
    let mut child = million()
        .arg("serve")
        .env("DATABASE_URL", &db.conninfo)
        .env("APP__APPLICATION__PORT", port.to_string())
        .env("APP__AUTH__HASH_CONCURRENCY", "1")
        // They wait their turn however busy the machine running the tests is
        // (the point here is the shutdown, not the 503 of a long queue).
        .env("APP__AUTH__HASH_WAIT_MS", "60000")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_healthy(&mut child, port, Duration::from_secs(30)).await;
    // Sign-ups queue for the one hashing slot: stop the server while they wait.
    let signups: Vec<_> = (0..4)
        .map(|n| {
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(format!("http://127.0.0.1:{port}/api/users"))
                    .json(&serde_json::json!({"user": {"username": format!("late{n}"), "email": format!("late{n}@example.com"), "password": "password123"}}))
                    .send()
                    .await
                    .map(|response| response.status())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let status = stop(&mut child);
    let mut answered = Vec::new();
    for signup in signups {
        answered.push(
            signup
                .await
                .unwrap()
                .expect("an answer, not a dropped connection"),
        );
    }

    assert!(status.success());
    assert_eq!(
        answered,
        [StatusCode::CREATED; 4],
        "every request in flight was answered"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM users WHERE username LIKE 'late%'")
            .await,
        4
    );
}

#[tokio::test]
async fn serve_runs_its_own_postgres_when_none_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let data = dir.path().join("pg");
    let port = free_port();
    let mut child = million()
        .args(["serve", "--demo"])
        .env("APP__DATABASE__EMBEDDED_DIR", &data)
        .env("APP__APPLICATION__PORT", port.to_string())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_healthy(&mut child, port, Duration::from_secs(120)).await;

    let home = reqwest::get(format!("http://127.0.0.1:{port}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap()
        .status();
    let postmaster = data.join("data/postmaster.pid");
    let running_while_serving = postmaster.exists();
    let status = stop(&mut child);

    assert_eq!(ready, StatusCode::OK);
    assert!(
        home.contains("class=\"preview\""),
        "the demo data is on the home page"
    );
    assert!(running_while_serving);
    assert!(status.success());
    assert!(!postmaster.exists(), "PostgreSQL was stopped with the app");
}

#[test]
fn config_prints_the_settings_with_secrets_masked() {
    let output = million()
        .arg("config")
        .env(
            "DATABASE_URL",
            "postgres://app:s3cret-password@db.example:5432/million",
        )
        .output()
        .unwrap();

    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success());
    assert!(printed.contains("[application]"), "{printed}");
    assert!(
        printed.contains("host=db.example port=5432 dbname=million user=app password=********"),
        "{printed}"
    );
    assert!(!printed.contains("s3cret-password"));
    let secrets = std::fs::read_to_string(data_dir().join("secrets.toml")).unwrap();
    let jwt_secret = secrets
        .lines()
        .find_map(|line| line.strip_prefix("jwt_secret = "))
        .unwrap()
        .trim_matches('"');
    assert!(jwt_secret.len() >= 32, "a local run makes its own secret");
    assert!(!printed.contains(jwt_secret), "{printed}");
    assert!(printed.contains("jwt_secret = \"********\""), "{printed}");
}

#[test]
fn each_data_folder_gets_its_own_development_secrets() {
    let folders = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut made = Vec::new();
    for folder in &folders {
        for _ in 0..2 {
            let status = million()
                .arg("config")
                .env("APP__APPLICATION__DATA_DIR", folder.path())
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let path = folder.path().join("secrets.toml");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        made.push(std::fs::read_to_string(path).unwrap());
    }
    assert_ne!(made[0], made[1], "two data folders never share a secret");
}

#[test]
fn bad_settings_stop_start_up_with_the_key_named() {
    let unknown = million()
        .arg("config")
        .env("APP__APPLICATION__PROT", "1")
        .output()
        .unwrap();
    let invalid = million()
        .arg("serve")
        .env("APP__APPLICATION__PORT", "eighty")
        .output()
        .unwrap();
    let production = million()
        .arg("serve")
        .env("APP_ENVIRONMENT", "production")
        .output()
        .unwrap();

    for output in [&unknown, &invalid, &production] {
        assert!(!output.status.success());
    }
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("prot"));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("application.port"));
    assert!(String::from_utf8_lossy(&production.stderr).contains("APP__AUTH__JWT_SECRET"));
}

#[cfg(not(feature = "stateless-sessions"))]
#[test]
fn cookie_sessions_need_the_stateless_sessions_build() {
    let output = million()
        .arg("serve")
        .env("APP__SESSION__STORE", "cookie")
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("--features stateless-sessions"), "{stderr}");
}

#[cfg(not(feature = "cache"))]
#[test]
fn a_cache_needs_the_cache_build() {
    let output = million()
        .arg("serve")
        .env("APP__CACHE__REDIS_URL", "redis://127.0.0.1:6379")
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("--features cache"), "{stderr}");
}

/// `/proc/{pid}/stat`'s fields after the command name: the third field of
/// the file is `fields[0]`.
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').map(str::to_string).collect()
}

fn session_of(pid: u32) -> u32 {
    stat_fields(pid)[3].parse().unwrap()
}

fn gone(pid: u32) -> bool {
    // Gone, or a zombie waiting for its parent.
    !std::path::Path::new(&format!("/proc/{pid}")).exists() || stat_fields(pid)[0] == "Z"
}

#[tokio::test]
async fn the_server_hashes_passwords_in_a_helper_process_that_stops_with_it() {
    let db = TestDatabase::create().await;
    let port = free_port();
    let mut child = million()
        .arg("serve")
        .env("DATABASE_URL", &db.conninfo)
        .env("APP__APPLICATION__PORT", port.to_string())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_healthy(&mut child, port, Duration::from_secs(30)).await;

    let signup = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/users"))
        .json(&serde_json::json!({"user": {"username": "hashed", "email": "hashed@example.com", "password": "password123"}}))
        .send()
        .await
        .unwrap();
    let helpers: Vec<u32> = million::process::children(child.id())
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("hash-helper"))
        })
        .collect();
    let helper_session = helpers.first().map(|helper| session_of(*helper));
    let status = stop(&mut child);

    assert_eq!(signup.status(), StatusCode::CREATED);
    assert_eq!(helpers.len(), 1, "one hashing helper: {helpers:?}");
    assert_eq!(
        helper_session,
        Some(helpers[0]),
        "the helper leads a session (a scheduling group) of its own"
    );
    assert!(status.success());
    let started = Instant::now();
    while !gone(helpers[0]) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the helper outlived the server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_hashing_helper_runs_behind_everything_else_and_comes_back_if_killed() {
    use million::auth::password::Passwords;
    use secrecy::SecretString;
    let secret = |value: &str| SecretString::from(value.to_string());
    let passwords = Passwords::in_helper(
        2,
        Duration::from_secs(30),
        env!("CARGO_BIN_EXE_million").into(),
    );

    let hash = passwords.hash(&secret("correct horse")).await.unwrap();
    let (correct, incorrect) = (secret("correct horse"), secret("wrong horse"));
    let (right, wrong) = tokio::join!(
        passwords.verify(&correct, Some(hash.clone())),
        passwords.verify(&incorrect, Some(hash.clone())),
    );
    let unknown = passwords.verify(&secret("correct horse"), None).await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(right.unwrap(), "the right password verifies");
    assert!(!wrong.unwrap(), "a wrong one does not");
    assert!(!unknown.unwrap(), "nor one for an unknown account");

    let helper = passwords.helper_pid().await.expect("a running helper");
    assert_eq!(session_of(helper), helper, "a session of its own");
    assert_ne!(session_of(helper), session_of(std::process::id()));
    let autogroups = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|enabled| enabled.trim() == "1");
    if autogroups {
        let group = std::fs::read_to_string(format!("/proc/{helper}/autogroup")).unwrap();
        let nice = million::auth::password::HELPER_GROUP_NICE;
        assert!(
            group.trim_end().ends_with(&format!("nice {nice}")),
            "{group}"
        );
    }
    let mut hashing_threads = 0;
    for task in std::fs::read_dir(format!("/proc/{helper}/task")).unwrap() {
        let task = task.unwrap().path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap();
        if name.starts_with("password-hash") {
            hashing_threads += 1;
            let stat = std::fs::read_to_string(task.join("stat")).unwrap();
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            assert_eq!(fields[38], "5", "{name} runs at SCHED_IDLE");
        }
    }
    assert_eq!(hashing_threads, 2, "one thread per slot");

    kill(Pid::from_raw(helper as i32), Signal::SIGKILL).unwrap();
    let after = passwords
        .verify(&secret("correct horse"), Some(hash))
        .await
        .expect("a killed helper is replaced, and the sign-in still answered");
    assert!(after);
    let replacement = passwords.helper_pid().await.unwrap();
    assert_ne!(replacement, helper);
}
