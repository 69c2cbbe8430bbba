//! The DynamoDB client's trust store, against a real TLS server (`openssl s_server`).
//!
//! Built the way Lambda builds it (no `SSL_CERT_FILE` / `SSL_CERT_DIR`), the client trusts
//! only the Amazon Trust Services roots compiled into it: a server whose certificate does
//! not chain to one of them is refused during the handshake, before any request is sent.

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

#[tokio::test]
async fn a_certificate_outside_the_amazon_roots_is_refused() {
    let dir = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_server, port) = self_signed_server(&dir);

    let endpoint = format!("https://127.0.0.1:{port}");
    let lambda: HashMap<&str, String> = [
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .collect();
    let client = common::runtime::dynamodb_client_from(|k| lambda.get(k).cloned()).unwrap();
    let err = client
        .get_item()
        .table_name("links")
        .key("pk", AttributeValue::S("abc".into()))
        .key("sk", AttributeValue::S("link".into()))
        .send()
        .await
        .expect_err("a self-signed certificate must not be trusted");
    let text = format!("{}", DisplayErrorContext(&err));
    // The chain was checked and leads to none of the trusted roots.
    assert!(
        text.contains("UnknownIssuer"),
        "expected an unknown-issuer error, got: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
