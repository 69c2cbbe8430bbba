//! The DynamoDB client's trust store, against a real TLS server (`openssl s_server`) with a
//! certificate the system store of the checking process trusts.
//!
//! Built the way Lambda builds it (no `SSL_CERT_FILE` / `SSL_CERT_DIR`), the client trusts
//! only the Amazon Trust Services roots compiled into it and refuses that certificate during
//! the handshake; told to use the system store, it accepts it.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Child {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl is on the machine")
}

/// A TLS server on loopback with a self-signed certificate for 127.0.0.1.
fn self_signed_server(dir: &Path) -> (Server, u16) {
    let status = openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            // A server certificate, not a CA: the check must get as far as its issuer.
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ],
    )
    .wait()
    .unwrap();
    assert!(status.success(), "openssl req failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let accept = format!("127.0.0.1:{port}");
    let server = Server(openssl(
        dir,
        &[
            "s_server", "-accept", &accept, "-cert", "cert.pem", "-key", "key.pem", "-www",
        ],
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&accept).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, port)
}

/// What the client gets from `https://127.0.0.1:{port}`, built from `vars` as Lambda's
/// environment: the error text of a `GetItem`.
async fn get_item_error(port: u16, vars: &[(&str, &str)]) -> String {
    let endpoint = format!("https://127.0.0.1:{port}");
    let mut lambda: HashMap<&str, String> = [
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .collect();
    lambda.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    let client = common::store::dynamodb_client_from(|k| lambda.get(k).cloned()).unwrap();
    let err = client
        .get_item()
        .table_name("links")
        .key("pk", AttributeValue::S("abc".into()))
        .key("sk", AttributeValue::S("link".into()))
        .send()
        .await
        .expect_err("openssl s_server is not DynamoDB");
    format!("{}", DisplayErrorContext(&err))
}

/// Runs `tls_checks` in a child process whose system CA store (`SSL_CERT_FILE`) is the test
/// server's certificate, so that a client falling back to the system store would trust it.
#[test]
fn a_certificate_outside_the_amazon_roots_is_refused() {
    let dir = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_server, port) = self_signed_server(&dir);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["tls_checks", "--exact", "--ignored", "--nocapture"])
        .env("SSL_CERT_FILE", dir.join("cert.pem"))
        .env_remove("SSL_CERT_DIR")
        .env("TLS_TEST_PORT", port.to_string())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("1 passed"),
        "the checks did not run: {report}"
    );
}

#[tokio::test]
#[ignore = "run by a_certificate_outside_the_amazon_roots_is_refused, in its own process"]
async fn tls_checks() {
    let port: u16 = std::env::var("TLS_TEST_PORT").unwrap().parse().unwrap();
    let cert_file = std::env::var("SSL_CERT_FILE").unwrap();

    // As on Lambda: only the built-in roots. The chain leads to none of them.
    let text = get_item_error(port, &[]).await;
    assert!(
        text.contains("UnknownIssuer"),
        "expected an unknown-issuer error, got: {text}"
    );

    // Told to use the system store, which here trusts the server: the handshake succeeds
    // and what fails is the exchange with a server that is not DynamoDB.
    let text = get_item_error(port, &[("SSL_CERT_FILE", &cert_file)]).await;
    assert!(
        !text.contains("certificate"),
        "the system store should trust the server, got: {text}"
    );
}
