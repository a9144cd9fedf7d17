//! Abuse resistance, attacked: MFA brute force, file-descriptor exhaustion, slowloris, idle and
//! stalled-body clients, shutdown, keep-alive after an early refusal, readiness, and the trail
//! that failed authentication leaves. Each test is bounded in time.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::recorder::{Behaviour, Recorder};
use support::{
    Creds, DEVELOP, Gateway, NO_SKILL, NO_SKILL_MFA, S3_ROLE, WRITER_ROLE, assume,
    config_with_backend,
};

fn addr(gw: &Gateway) -> SocketAddr {
    gw.endpoint.trim_start_matches("http://").parse().unwrap()
}

/// A signed request as raw HTTP/1.1 bytes (keep-alive).
fn signed(
    method: &str,
    path: &str,
    host: &str,
    key: (&str, &str, Option<&str>),
    service: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    for (k, v) in extra {
        headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let signer = stsgate::sigv4::Signer::new(
        key.0,
        key.1,
        key.2,
        "us-east-1",
        service,
        stsgate::sigv4::SigningKeyCache::disabled(),
    );
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    signer
        .sign(
            method,
            p,
            q,
            &mut headers,
            &hex::encode(Sha256::digest(body)),
            stsgate::sigv4::AmzDate::now(),
        )
        .unwrap();
    let mut wire = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    for (k, v) in &headers {
        wire.extend_from_slice(format!("{k}: {}\r\n", v.to_str().unwrap()).as_bytes());
    }
    wire.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    wire.extend_from_slice(body);
    wire
}

/// Reads one HTTP/1.1 response (Content-Length framed): status, head, body.
fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, String, String)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    Ok((status, head, String::from_utf8_lossy(&body).into_owned()))
}

fn metrics(gw: &Gateway) -> String {
    http_get(&gw.admin, "/metrics")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// A plain GET to `base` (`http://host:port`); `None` if it cannot connect or times out.
fn http_get(base: &str, path: &str) -> Option<(u16, String)> {
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    read_response(&mut s).ok().map(|(st, _, b)| (st, b))
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn mfa_brute_force_stops_at_the_limit_and_the_right_code_is_refused_during_the_lockout() {
    let gw = Gateway::demo();
    let host = addr(&gw).to_string();
    let mut stream = TcpStream::connect(addr(&gw)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut attempt = |code: &str| {
        let body = format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=brute&SerialNumber={}&TokenCode={code}",
            S3_ROLE.replace(':', "%3A").replace('/', "%2F"),
            NO_SKILL_MFA.replace(':', "%3A").replace('/', "%2F"),
        );
        let wire = signed(
            "POST",
            "/",
            &host,
            (NO_SKILL.0, NO_SKILL.1, None),
            "sts",
            body.as_bytes(),
            &[("content-type", "application/x-www-form-urlencoded")],
        );
        stream.write_all(&wire).unwrap();
        read_response(&mut stream).unwrap()
    };
    let right = support::mfa_code(&gw);
    let wrong = |i: u32| {
        let n = (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000;
        format!("{n:06}")
    };
    for i in 0..5 {
        let (status, _, body) = attempt(&wrong(i));
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("invalid MFA one time pass code"), "{body}");
    }
    // Locked: the right code reads exactly like a wrong one, and so do 200 further guesses.
    let started = Instant::now();
    let (status, _, locked_body) = attempt(&right);
    assert_eq!(status, 403, "{locked_body}");
    assert!(
        locked_body.contains("invalid MFA one time pass code"),
        "{locked_body}"
    );
    for i in 5..205 {
        let (status, _, body) = attempt(&wrong(i));
        assert_eq!(status, 403, "{body}");
    }
    let elapsed = started.elapsed();
    let text = metrics(&gw);
    assert!(metric(&text, "stsgate_mfa_lockouts_total") >= 1.0, "{text}");
    assert_eq!(
        metric(&text, "stsgate_mfa_failures_total{reason=\"locked_out\"}"),
        201.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "stsgate_mfa_failures_total{reason=\"invalid\"}"),
        5.0,
        "{text}"
    );
    let log = gw.log();
    assert!(
        log.contains("MFA locked out") && log.contains(NO_SKILL_MFA),
        "{log}"
    );
    assert!(!log.contains(&right), "the log must never hold a code");
    println!("201 attempts refused during the lockout in {elapsed:?}, the right code among them");
}

#[test]
fn at_the_connection_cap_accepting_pauses_and_health_and_the_cpu_stay_fine() {
    let rec = Recorder::start();
    let text = config_with_backend(&rec.backend_toml(), "[limits]\nmax_connections = 40\n");
    let gw = Gateway::start_with_fd_limit(&text, Some(128));
    let pid = gw.pid();
    let held: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(addr(&gw)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let cpu = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - cpu;
    let health = http_get(&gw.admin, "/health");
    assert_eq!(
        health.map(|h| h.0),
        Some(200),
        "/health must answer at the cap"
    );
    let m = metrics(&gw);
    assert_eq!(metric(&m, "stsgate_connections_open"), 40.0, "{m}");
    assert!(
        metric(&m, "stsgate_connection_cap_reached_total") >= 1.0,
        "{m}"
    );
    assert!(
        used < 0.3,
        "the gateway used {used} s of CPU in 2 s while capped"
    );
    println!(
        "capped at 40 of 150 connections: {used:.2} s CPU in 2 s, {} fds open",
        open_fds(pid)
    );
    drop(held);
}

#[test]
fn out_of_file_descriptors_the_accept_loop_backs_off_and_recovers() {
    let rec = Recorder::start();
    let text = config_with_backend(&rec.backend_toml(), "[limits]\nmax_connections = 100000\n");
    let gw = Gateway::start_with_fd_limit(&text, Some(64));
    let pid = gw.pid();
    let held: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(addr(&gw)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let cpu = cpu_seconds(pid);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_seconds(pid) - cpu;
    assert!(
        used < 0.3,
        "accept errors must back off: {used} s of CPU in 3 s"
    );
    drop(held);
    // Once the connections are gone, the gateway serves again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while http_get(&gw.admin, "/health").map(|h| h.0) != Some(200) {
        assert!(Instant::now() < deadline, "/health did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = metrics(&gw);
    assert!(metric(&m, "stsgate_accept_errors_total") > 0.0, "{m}");
    let lines = gw.log().matches("accept failed").count();
    let seconds = started.elapsed().as_secs_f64() + 2.0;
    assert!(
        (lines as f64) <= seconds + 1.0,
        "{lines} accept-failure lines in {seconds:.0} s: at most one a second"
    );
    println!("out of fds: {used:.2} s CPU in 3 s, {lines} log lines, recovered");
}

#[test]
fn slow_idle_and_stalled_clients_are_cut_off_while_others_are_served() {
    let rec = Recorder::start();
    let text = config_with_backend(
        &rec.backend_toml(),
        "[limits]\nheader_read_timeout_seconds = 2\nidle_timeout_seconds = 3\nbody_read_timeout_seconds = 2\n",
    );
    let gw = Gateway::start(&text);
    let a = addr(&gw);
    // Time until the server closes the connection (or answers), reading with a 10 s bound.
    let until_closed = |mut s: TcpStream, trickle: bool| {
        let started = Instant::now();
        s.set_read_timeout(Some(Duration::from_millis(250)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        loop {
            assert!(started.elapsed() < Duration::from_secs(10), "never cut off");
            if trickle {
                let _ = s.write_all(b"a");
            }
            match s.read(&mut buf) {
                Ok(0) => {
                    return (
                        started.elapsed(),
                        String::from_utf8_lossy(&got).into_owned(),
                    );
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => {
                    return (
                        started.elapsed(),
                        String::from_utf8_lossy(&got).into_owned(),
                    );
                }
            }
        }
    };
    let slowloris = std::thread::spawn(move || {
        let mut s = TcpStream::connect(a).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        until_closed(s, true)
    });
    let idle = std::thread::spawn(move || until_closed(TcpStream::connect(a).unwrap(), false));
    // A body is read only from a caller whose key resolves (its signature, over the body, is
    // checked once the body is in): that caller's stalled body is cut off by the body timeout.
    let date = stsgate::sigv4::AmzDate::now();
    let signed_stall = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nx-amz-date: {}\r\nauthorization: AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature={}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 1000\r\n\r\nAction=Get",
        date.as_str(),
        support::DEVELOP.0,
        &date.as_str()[..8],
        "0".repeat(64)
    );
    let stalled = std::thread::spawn(move || {
        let mut s = TcpStream::connect(a).unwrap();
        s.write_all(signed_stall.as_bytes()).unwrap();
        until_closed(s, false)
    });
    // An unsigned one, or one naming an unknown key, is refused at once, its body unread.
    for auth in [
        String::new(),
        format!(
            "authorization: AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNUNKNOWN00/{}/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature={}\r\nx-amz-date: {}\r\n",
            &date.as_str()[..8],
            "0".repeat(64),
            date.as_str()
        ),
    ] {
        let mut s = TcpStream::connect(a).unwrap();
        s.write_all(format!("POST / HTTP/1.1\r\nHost: x\r\n{auth}content-type: application/x-www-form-urlencoded\r\ncontent-length: 60000\r\n\r\nAction=Get").as_bytes()).unwrap();
        let (t, answer) = until_closed(s, false);
        assert!(
            t < Duration::from_secs(1),
            "unauthenticated STS body held {t:?}"
        );
        assert!(
            answer.contains("MissingAuthenticationToken")
                || answer.contains("InvalidClientTokenId"),
            "{answer}"
        );
    }
    // Meanwhile a normal client is served at once, several times.
    for _ in 0..5 {
        let started = Instant::now();
        let (status, _) = http_get(&gw.endpoint, "/").unwrap();
        assert_eq!(status, 403, "an anonymous S3 request is refused, promptly");
        assert!(started.elapsed() < Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(300));
    }
    let (t, _) = slowloris.join().unwrap();
    assert!(
        t >= Duration::from_millis(1500) && t < Duration::from_secs(6),
        "slowloris cut after {t:?}"
    );
    let (t, _) = idle.join().unwrap();
    assert!(
        t < Duration::from_secs(6),
        "idle connection cut after {t:?}"
    );
    let (t, answer) = stalled.join().unwrap();
    assert!(t < Duration::from_secs(6), "stalled body cut after {t:?}");
    assert!(
        answer.contains("400") && answer.contains("RequestTimeout"),
        "{answer}"
    );
    println!("slowloris, idle and stalled-body clients cut off; normal requests kept being served");
}

#[test]
fn sigterm_closes_the_listeners_at_once_and_drains_in_flight_requests() {
    let rec = Recorder::start();
    rec.put_object("/recorded/slow.txt", b"slow but whole");
    let gw = Gateway::with_backend(&rec.backend_toml(), WRITER_ROLE);
    let creds: Creds = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "term",
        None,
    );
    rec.set(Behaviour::Delay(Duration::from_secs(3)));
    let a = addr(&gw);
    let host = a.to_string();
    let token = creds.token.clone();
    let (key, secret) = (creds.key_id.clone(), creds.secret.clone());
    let in_flight = std::thread::spawn(move || {
        let mut s = TcpStream::connect(a).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let wire = signed(
            "GET",
            "/recorded/slow.txt",
            &host,
            (&key, &secret, token.as_deref()),
            "s3",
            b"",
            &[],
        );
        s.write_all(&wire).unwrap();
        read_response(&mut s).unwrap()
    });
    std::thread::sleep(Duration::from_millis(700));
    let sent = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &gw.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // New connections are refused within a second, while the slow request is still running.
    let refused = loop {
        match TcpStream::connect_timeout(&a, Duration::from_millis(200)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break sent.elapsed(),
            _ if sent.elapsed() > Duration::from_secs(2) => {
                panic!("the listener stayed open after SIGTERM")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(
        refused < Duration::from_secs(1),
        "refused after {refused:?}"
    );
    let (status, _, body) = in_flight.join().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "slow but whole"),
        "the in-flight request drains"
    );
    println!("new connections refused {refused:?} after SIGTERM; the in-flight GET completed");
}

#[test]
fn a_refused_put_leaves_the_connection_usable_or_says_it_closes() {
    let rec = Recorder::start();
    rec.put_object("/recorded/ok.txt", b"fine");
    let gw = Gateway::with_backend(&rec.backend_toml(), WRITER_ROLE);
    let reader = assume(&gw, S3_ROLE, "reader", None);
    let a = addr(&gw);
    let host = a.to_string();
    let key = (
        reader.key_id.as_str(),
        reader.secret.as_str(),
        reader.token.as_deref(),
    );
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for round in 0..40 {
        s.write_all(&signed(
            "PUT",
            "/recorded/denied.txt",
            &host,
            key,
            "s3",
            b"0123456789",
            &[],
        ))
        .unwrap();
        let (status, head, _) = read_response(&mut s).unwrap();
        assert_eq!(status, 403, "round {round}");
        assert!(
            !head.to_ascii_lowercase().contains("connection: close"),
            "a small body is drained: {head}"
        );
        s.write_all(&signed(
            "GET",
            "/recorded/ok.txt",
            &host,
            key,
            "s3",
            b"",
            &[],
        ))
        .unwrap();
        let (status, _, body) =
            read_response(&mut s).expect("the next request on the same connection");
        assert_eq!((status, body.as_str()), (200, "fine"), "round {round}");
    }
    // With Expect: 100-continue the body never comes: the refusal says the connection closes.
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut wire = signed(
        "PUT",
        "/recorded/denied.txt",
        &host,
        key,
        "s3",
        b"0123456789",
        &[("expect", "100-continue")],
    );
    wire.truncate(wire.len() - 10);
    s.write_all(&wire).unwrap();
    let (status, head, _) = read_response(&mut s).unwrap();
    assert_eq!(status, 403);
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    assert!(
        rec.seen().iter().all(|r| r.method == "GET"),
        "no PUT reached the backend"
    );
}

#[test]
fn ready_follows_the_backend() {
    let rec = Recorder::start();
    let gw = Gateway::with_backend(&rec.backend_toml(), "");
    let wait_for = |want: u16| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = http_get(&gw.admin, "/ready").map(|r| r.0);
            if got == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/ready stayed {got:?}, wanted {want}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for(200);
    drop(rec);
    wait_for(503);
    assert_eq!(
        http_get(&gw.admin, "/health").map(|r| r.0),
        Some(200),
        "alive, not ready"
    );
    let m = metrics(&gw);
    assert_eq!(
        metric(&m, "stsgate_backend_up{backend=\"recorder\"}"),
        0.0,
        "{m}"
    );
}

#[test]
fn failed_authentication_leaves_one_log_line_and_a_metric_and_floods_are_rate_limited() {
    let rec = Recorder::start();
    let text = config_with_backend(
        &rec.backend_toml(),
        "[limits]\nauth_failure_logs_per_second = 5\n",
    );
    let gw = Gateway::start(&text);
    let a = addr(&gw);
    let host = a.to_string();
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let wrong_secret = "wrongwrongwrongwrongwrongwrongwrongwrong";
    let wire = signed(
        "GET",
        "/recorded/x",
        &host,
        (DEVELOP.0, wrong_secret, None),
        "s3",
        b"",
        &[],
    );
    let signature = String::from_utf8_lossy(&wire)
        .split("Signature=")
        .nth(1)
        .unwrap()
        .chars()
        .take(64)
        .collect::<String>();
    s.write_all(&wire).unwrap();
    let (status, _, body) = read_response(&mut s).unwrap();
    assert_eq!(status, 403);
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    std::thread::sleep(Duration::from_millis(300));
    let log = gw.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("authentication failed"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("SignatureDoesNotMatch")
            && lines[0].contains(DEVELOP.0)
            && lines[0].contains("127.0.0.1"),
        "{}",
        lines[0]
    );
    assert!(
        !log.contains(&signature) && !log.contains(wrong_secret),
        "never the signature or secret"
    );
    let m = metrics(&gw);
    assert_eq!(
        metric(
            &m,
            "stsgate_auth_failures_total{protocol=\"s3\",reason=\"SignatureDoesNotMatch\"}"
        ),
        1.0,
        "{m}"
    );
    // A tampered session token and an unknown key are reasons of their own.
    let w = signed(
        "GET",
        "/recorded/x",
        &host,
        ("ASIARTX3GSDSSMDOBCNR", "x", Some("AQxkZW1vbm90YXRva2Vu")),
        "s3",
        b"",
        &[],
    );
    s.write_all(&w).unwrap();
    read_response(&mut s).unwrap();
    let w = signed(
        "GET",
        "/recorded/x",
        &host,
        ("AKIARTX3GSDSAAAAAAAA", "x", None),
        "s3",
        b"",
        &[],
    );
    s.write_all(&w).unwrap();
    read_response(&mut s).unwrap();
    // A flood: 300 failures in well under a few seconds, logged at 5 a second at most.
    let started = Instant::now();
    for _ in 0..300 {
        s.write_all(&wire).unwrap();
        read_response(&mut s).unwrap();
    }
    let seconds = started.elapsed().as_secs_f64().ceil() + 1.0;
    std::thread::sleep(Duration::from_millis(300));
    let logged = gw
        .log()
        .lines()
        .filter(|l| l.contains("authentication failed"))
        .count();
    assert!(
        logged as f64 <= 5.0 * (seconds + 1.0) + 3.0,
        "{logged} lines in {seconds} s"
    );
    let m = metrics(&gw);
    assert_eq!(
        metric(
            &m,
            "stsgate_auth_failures_total{protocol=\"s3\",reason=\"SignatureDoesNotMatch\"}"
        ),
        301.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "stsgate_auth_failures_total{protocol=\"s3\",reason=\"InvalidClientTokenId\"}"
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "stsgate_auth_failures_total{protocol=\"s3\",reason=\"InvalidAccessKeyId\"}"
        ),
        1.0,
        "{m}"
    );
    println!("303 authentication failures counted, {logged} log lines");
}

/// Established TCP connections from `pid` to `port` on 127.0.0.1 (from /proc: no `ss` needed).
fn connections_to(pid: u32, port: u16) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")
                        .and_then(|r| r.strip_suffix(']'))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 9 && f[2] == remote && f[3] == "01" && inodes.contains(f[9])
        })
        .count()
}

#[test]
fn a_stalled_backend_504_closes_the_upstream_and_the_client_connections() {
    // A large upload (its own upstream connection) and a small one (a pooled connection).
    stalled_upload(50 * 1024 * 1024);
    stalled_upload(64 * 1024);
}

fn stalled_upload(size: usize) {
    let Some(backend) = support::Backend::start("s3s-fs") else {
        return;
    };
    let toml = format!("{}\ntimeout_seconds = 2", backend.toml());
    let gw = Gateway::with_backend(&toml, WRITER_ROLE);
    let creds = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "stall",
        None,
    );
    let port: u16 = backend
        .endpoint
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let a = addr(&gw);
    let host = a.to_string();
    // Freeze the backend, then upload 50 MiB: it accepts the connection but never reads.
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &backend.pid.to_string()])
            .status()
            .unwrap()
    };
    assert!(signal("-STOP").success());
    let body = vec![7u8; size];
    let path = format!("/{}/stalled.bin", backend.bucket);
    let wire = signed(
        "PUT",
        &path,
        &host,
        (&creds.key_id, &creds.secret, creds.token.as_deref()),
        "s3",
        &body,
        &[],
    );
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&wire);
        })
    };
    let started = Instant::now();
    let (status, head, response) = read_response(&mut s).unwrap();
    let waited = started.elapsed();
    assert_eq!(status, 504, "{response}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    // The client connection is closed after the 504 ...
    let mut rest = [0u8; 1];
    let closed = matches!(s.read(&mut rest), Ok(0) | Err(_));
    assert!(
        closed,
        "the client connection must be closed after a 504 mid-upload"
    );
    let _ = writer.join();
    // ... and so is the upstream one, while the backend is still frozen. (The readiness probe
    // holds a connection of its own for up to 2 s of every 4: the fewest seen over a cycle.)
    let sampled = Instant::now();
    let mut upstream = usize::MAX;
    while sampled.elapsed() < Duration::from_millis(4500) {
        upstream = upstream.min(connections_to(gw.pid(), port));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(signal("-CONT").success());
    assert_eq!(
        upstream, 0,
        "the gateway kept {upstream} connection(s) to the frozen backend"
    );
    println!(
        "504 after {waited:?}; client and upstream connections closed while the backend was frozen"
    );
}

#[test]
fn a_tls_client_that_never_finishes_its_handshake_and_a_stalled_delete_body_are_cut_off() {
    let rec = Recorder::start();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = support::tls_material(dir.path());
    let limits = "[limits]\ntls_handshake_timeout_seconds = 2\nbody_read_timeout_seconds = 2\nheader_read_timeout_seconds = 30\nidle_timeout_seconds = 30\n";
    let text = support::with_tls(
        &config_with_backend(&rec.backend_toml(), limits),
        &cert,
        &key,
    );
    let gw = Gateway::start(&text);
    // Connects, sends half a ClientHello-sized nothing, and waits.
    let mut s = TcpStream::connect(addr(&gw)).unwrap();
    s.write_all(&[0x16, 0x03, 0x01]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let closed = matches!(s.read(&mut buf), Ok(0) | Err(_));
    let handshake = started.elapsed();
    assert!(
        closed && handshake >= Duration::from_millis(1500) && handshake < Duration::from_secs(6),
        "handshake cut after {handshake:?}"
    );

    // Plain HTTP: a DeleteObjects body that stops half way is answered RequestTimeout.
    let rec2 = Recorder::start();
    let extra = format!("{WRITER_ROLE}\n[limits]\nbody_read_timeout_seconds = 2\n");
    let gw = Gateway::start(&config_with_backend(&rec2.backend_toml(), &extra));
    let creds = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "stall",
        None,
    );
    let body = b"<Delete><Object><Key>a</Key></Object></Delete>";
    let host = addr(&gw).to_string();
    let mut wire = signed(
        "POST",
        "/recorded?delete",
        &host,
        (&creds.key_id, &creds.secret, creds.token.as_deref()),
        "s3",
        body,
        &[],
    );
    wire.truncate(wire.len() - 20);
    let mut s = TcpStream::connect(addr(&gw)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&wire).unwrap();
    let started = Instant::now();
    let (status, _, answer) = read_response(&mut s).unwrap();
    let t = started.elapsed();
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("RequestTimeout"), "{answer}");
    assert!(t < Duration::from_secs(6), "answered after {t:?}");
    assert!(rec2.seen().is_empty(), "nothing reached the backend");
    println!(
        "TLS handshake cut after {handshake:?}; stalled DeleteObjects body answered after {t:?}"
    );
}
