//! A real browser as the client: Debian's Chromium, headless, driven through the DevTools
//! protocol (puppeteer-core, pinned in tests/browser/package-lock.json and installed by
//! scripts/test.sh into target/browser-driver) by tests/browser/drive.mjs. Pages come from two
//! origins the test serves on loopback; the gateway stands in front of s3s-fs with CORS rules for
//! the first origin only. The page fetches an object with a presigned GET, reads a refusal,
//! uploads with a presigned PUT (after the browser's own preflight) and through the README's HTML
//! form (printed by its boto3 snippet for a session), landing on `success_action_redirect`; the second origin's page is
//! refused by the browser. The objects are then read from the backend itself, byte for byte.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use support::{Backend, Gateway, WRITER_ROLE, assume, config_with_backend, repo_root};

/// Serves a blank page for every GET on its port (the pages' origins) and records the targets
/// asked for (the form's redirect lands here). Stops with the test process.
fn page_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            // The rest of the head; pages are only ever asked for with GET.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            if let Some(target) = line.split_whitespace().nth(1) {
                record.lock().unwrap().push(target.to_string());
            }
            let body = "<!doctype html><html><head><title>app</title><link rel=\"icon\" href=\"data:,\"></head><body>app</body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (origin, seen)
}

/// Chromium and the driver, or why not.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|p| support::which(p))
        .ok_or("chromium is not installed (scripts/test.sh installs Debian's)")?;
    support::which("node").ok_or("node is not installed")?;
    let driver = repo_root().join("target/browser-driver");
    if !driver.join("node_modules/puppeteer-core").is_dir() {
        return Err("puppeteer-core is not installed in target/browser-driver (scripts/test.sh installs it)".into());
    }
    Ok((chromium, driver))
}

/// A presigned URL from aws-cli for the writer's session.
fn presign(aws: &support::AwsCli, url: &str) -> String {
    aws.ok(&["s3", "presign", url, "--expires-in", "600"])
        .trim()
        .to_string()
}

/// A presigned PUT from boto3 (aws-cli presigns GETs only).
fn presign_put(gw: &Gateway, creds: &support::Creds, bucket: &str, key: &str) -> String {
    let script = format!(
        "{}print(s3.generate_presigned_url(\"put_object\", Params={{\"Bucket\": \"{bucket}\", \"Key\": \"{key}\"}}, ExpiresIn=600))",
        creds.boto3_s3(gw)
    );
    support::python(&script, &[]).trim().to_string()
}

/// The README's form snippet, run as written (its endpoint, bucket and redirect pointed at this
/// test's) with the session in the environment: the HTML it prints.
fn readme_form(gw: &Gateway, creds: &support::Creds, bucket: &str, redirect: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let block = readme
        .split("<!-- upload-form:begin -->\n```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- upload-form:end -->").next())
        .expect("the README's upload-form snippet");
    for placeholder in [
        "http://127.0.0.1:7480",
        "\"demo-bucket\"",
        "https://app.example.com/uploaded",
    ] {
        assert!(
            block.contains(placeholder),
            "the snippet no longer names {placeholder}"
        );
    }
    let script = block
        .replace("http://127.0.0.1:7480", &gw.endpoint)
        .replace("\"demo-bucket\"", &format!("\"{bucket}\""))
        .replace("https://app.example.com/uploaded", redirect);
    support::python(
        &script,
        &[
            ("AWS_ACCESS_KEY_ID", &creds.key_id),
            ("AWS_SECRET_ACCESS_KEY", &creds.secret),
            ("AWS_SESSION_TOKEN", creds.token.as_deref().unwrap()),
        ],
    )
}

#[test]
fn chromium_fetches_uploads_and_posts_a_form_through_the_gateway() {
    let (chromium, driver) = match browser_tools() {
        Ok(t) => t,
        Err(why) => return support::unavailable("a browser", &why),
    };
    let Some(backend) = Backend::start("s3s-fs") else {
        return;
    };
    let (allowed, pages) = page_server();
    let (other, _) = page_server();
    let cors = format!(
        r#"{{"CORSRules":[{{"AllowedOrigins":["{allowed}"],"AllowedMethods":["GET","PUT","POST","HEAD"],"AllowedHeaders":["*"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":60}}]}}"#
    );
    let backend_toml = format!(
        "{}\n[[backends.buckets]]\nname = \"{}\"\ncors = '{cors}'\n",
        backend.toml(),
        backend.bucket
    );
    let gw = Gateway::start(&config_with_backend(&backend_toml, WRITER_ROLE));
    let creds = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "browser",
        None,
    );
    let aws = creds.aws(&gw);
    let dir = tempfile::tempdir().unwrap();

    // An object for the page to fetch.
    let shown = dir.path().join("shown.txt");
    std::fs::write(&shown, "shown in the page").unwrap();
    let shown_url = format!("s3://{}/shown.txt", backend.bucket);
    aws.ok(&["s3", "cp", shown.to_str().unwrap(), &shown_url]);
    let presigned_get = presign(&aws, &shown_url);
    let last = presigned_get.chars().last().unwrap();
    let tampered_get = format!(
        "{}{}",
        &presigned_get[..presigned_get.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    // What the page PUTs and what the form uploads: every byte value.
    let put_bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let presigned_put = presign_put(&gw, &creds, &backend.bucket, "browser/put.bin");
    let form_file = dir.path().join("report.bin");
    let form_bytes: Vec<u8> = (0..=255u8).rev().cycle().take(300_000).collect();
    std::fs::write(&form_file, &form_bytes).unwrap();
    let redirect = format!("{allowed}/done");
    let form_html = readme_form(&gw, &creds, &backend.bucket, &redirect);

    let scenario = serde_json::json!({
        "chromium": chromium,
        "allowedOrigin": allowed,
        "otherOrigin": other,
        "presignedGet": presigned_get,
        "tamperedGet": tampered_get,
        "presignedPut": presigned_put,
        "putBase64": data_encoding::BASE64.encode(&put_bytes),
        "form": {"html": form_html, "file": form_file},
    });
    let scenario_file = dir.path().join("scenario.json");
    std::fs::write(&scenario_file, scenario.to_string()).unwrap();
    // ES modules resolve imports beside the script: it runs from the driver's folder.
    let script = driver.join("drive.mjs");
    std::fs::copy(repo_root().join("tests/browser/drive.mjs"), &script).unwrap();
    let out = Command::new("timeout")
        .args(["120", "node"])
        .arg(&script)
        .arg(&scenario_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser driver failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(seen.get("failure").is_none(), "{seen:#}\n{}", gw.log());

    // The presigned GET: the page read the object.
    assert_eq!(seen["get"]["status"], 200, "{seen:#}");
    assert_eq!(seen["get"]["text"], "shown in the page");
    assert!(
        seen["get"]["etag"].as_str().is_some_and(|e| !e.is_empty()),
        "ETag is exposed: {seen:#}"
    );
    // The refusal: readable by the page, with S3's code.
    assert_eq!(seen["refused"]["status"], 403, "{seen:#}");
    assert!(
        seen["refused"]["text"]
            .as_str()
            .unwrap()
            .contains("SignatureDoesNotMatch"),
        "{seen:#}"
    );
    // The presigned PUT, after the browser's preflight.
    assert_eq!(seen["put"]["status"], 200, "{seen:#}");
    assert_eq!(
        support::backend_bytes(&backend, "browser/put.bin"),
        put_bytes
    );
    // The form POST: redirected to the page's origin with bucket, key and ETag.
    let landed = seen["form"]["landed"].as_str().unwrap();
    assert!(
        landed.starts_with(&format!(
            "{redirect}?bucket={}&key=uploads%2Freport.bin&etag=",
            backend.bucket
        )),
        "{landed}"
    );
    assert!(
        pages
            .lock()
            .unwrap()
            .iter()
            .any(|t| t.starts_with("/done?")),
        "the redirect never reached the page's server"
    );
    assert_eq!(
        support::backend_bytes(&backend, "uploads/report.bin"),
        form_bytes
    );
    // The other origin: the browser hid the answer from the page.
    let refused = seen["otherOrigin"]["error"].as_str().unwrap_or("");
    assert!(refused.contains("Failed to fetch"), "{seen:#}");
    // (The PUT went out only because the browser's preflight was answered by the gateway.)
}
