//! A real Keycloak (`scripts/keycloak.sh`: the Maven Central distribution, over https with a
//! test CA, the realm of `tests/keycloak/realm.json` imported), and the token requests a user
//! and a service make to it. Stopped when dropped.

use std::path::PathBuf;
use std::process::Command;

pub struct Keycloak {
    /// `https://localhost:PORT`.
    pub url: String,
    /// The CA of its certificate (a provider's `ca_file`).
    pub ca: PathBuf,
    dir: tempfile::TempDir,
}

impl Keycloak {
    /// Starts Keycloak, or reports it unavailable (a failure under STSGATE_REQUIRE_BACKENDS=1).
    pub fn start() -> Option<Keycloak> {
        let dir = tempfile::Builder::new()
            .prefix("stsgate-keycloak-")
            .tempdir()
            .unwrap();
        let out = Command::new(super::repo_root().join("scripts/keycloak.sh"))
            .arg("start")
            .arg(dir.path().join("run"))
            .arg(super::repo_root().join("tests/keycloak/realm.json"))
            .output()
            .expect("cannot run scripts/keycloak.sh");
        if !out.status.success() {
            super::unavailable("keycloak", &String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let stdout = String::from_utf8(out.stdout).unwrap();
        let get = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("keycloak.sh did not print {key}: {stdout}"))
                .to_string()
        };
        Some(Keycloak {
            url: get("URL"),
            ca: PathBuf::from(get("CA")),
            dir,
        })
    }

    /// The realm's issuer URL.
    pub fn issuer(&self) -> String {
        format!("{}/realms/stsgate", self.url)
    }

    fn post(&self, path: &str, form: &[(&str, &str)], bearer: Option<&str>) -> serde_json::Value {
        let mut c = Command::new("curl");
        c.args(["-sS", "--cacert"]).arg(&self.ca);
        for (k, v) in form {
            c.args(["--data-urlencode", &format!("{k}={v}")]);
        }
        if let Some(b) = bearer {
            c.args(["-H", &format!("Authorization: Bearer {b}")]);
        }
        let out = c.arg(format!("{}{path}", self.url)).output().unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("keycloak {path}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// A user's ID token (the resource-owner password grant of the public client
    /// `stsgate-cli`).
    pub fn id_token(&self, user: &str, password: &str) -> String {
        let v = self.post(
            "/realms/stsgate/protocol/openid-connect/token",
            &[
                ("grant_type", "password"),
                ("client_id", "stsgate-cli"),
                ("username", user),
                ("password", password),
                ("scope", "openid"),
            ],
            None,
        );
        v["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string()
    }

    /// A service's access token (client credentials of the confidential client `ci-runner`).
    pub fn service_token(&self) -> String {
        let v = self.post(
            "/realms/stsgate/protocol/openid-connect/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "ci-runner"),
                ("client_secret", "ci-runner-secret-for-tests-only"),
            ],
            None,
        );
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string()
    }

    /// Adds a new RSA realm key of a higher priority (Keycloak's key rotation): tokens are
    /// signed with it from now on.
    pub fn rotate_key(&self) {
        let admin = self.post(
            "/realms/master/protocol/openid-connect/token",
            &[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", "admin"),
                ("password", "admin-password-for-tests-only"),
            ],
            None,
        );
        let token = admin["access_token"].as_str().unwrap().to_string();
        let realm = Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&self.ca)
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("{}/admin/realms/stsgate", self.url))
            .output()
            .unwrap();
        let realm: serde_json::Value = serde_json::from_slice(&realm.stdout).unwrap();
        let component = serde_json::json!({
            "name": "rotated", "providerId": "rsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider", "parentId": realm["id"],
            "config": {"priority": ["500"], "keySize": ["2048"], "active": ["true"],
                       "enabled": ["true"], "algorithm": ["RS256"]}
        });
        let out = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&self.ca)
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([
                "-H",
                "content-type: application/json",
                "-d",
                &component.to_string(),
            ])
            .arg(format!("{}/admin/realms/stsgate/components", self.url))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "201", "new realm key");
    }
}

/// The `kid` of a JWT's header.
pub fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .unwrap_or_default()
}

impl Drop for Keycloak {
    fn drop(&mut self) {
        let _ = Command::new(super::repo_root().join("scripts/keycloak.sh"))
            .arg("stop")
            .arg(self.dir.path().join("run"))
            .output();
    }
}
