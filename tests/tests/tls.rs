//! The TLS backend etoro-client was built with (`rustls` by default; CI runs this binary again with `native-tls`)
//! really speaks TLS and really verifies: against a TLS server on 127.0.0.1 whose certificate a test CA signed,
//! the handshake fails while the trusted roots are another CA, and the request arrives once they are the test CA.
//!
//! Its own binary: the roots are chosen with `SSL_CERT_FILE`, which both backends read (rustls through the
//! platform verifier, native-tls through OpenSSL) and which is process-wide. The certificates in `tls/` are for
//! these tests only (valid until 2126, for 127.0.0.1 and localhost).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use etoro_client::{Client, Error, StatusCode, TokenUpdate, Uuid};
use etoro_client_tests::key_client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls").join(name)
}

/// What the server saw: handshakes that failed, requests that arrived over TLS.
#[derive(Default)]
struct Seen {
    failed_handshakes: AtomicUsize,
    requests: AtomicUsize,
}

/// A TLS server on 127.0.0.1 that answers every request with a 401 (a typed API error the client reports with
/// its status). Its own rustls, with ring: independent of the backend under test.
async fn tls_server() -> (String, Arc<Seen>) {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, counts) = (acceptor.clone(), counts.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    counts.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                counts.requests.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"errorCode":"Unauthorized","errorMessage":"test server"}"#;
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, seen)
}

async fn update(client: &Client) -> Error {
    let update = TokenUpdate::new().ips_whitelist(["203.0.113.7".parse().unwrap()]);
    client
        .update_user_token(Uuid::new_v4(), Uuid::new_v4(), update)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn https_is_verified_and_spoken_by_the_chosen_backend() {
    let (url, seen) = tls_server().await;

    // Roots that do not include the server's CA: the handshake fails, nothing is sent.
    std::env::set_var("SSL_CERT_FILE", fixture("other-ca.pem"));
    let err = update(&key_client(&url)).await;
    assert!(
        matches!(err, Error::Transport { .. }),
        "an untrusted certificate is a transport error: {err:?}"
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0, "nothing reached the server");
    // The server notes the failed handshake when the client's alert reaches it, maybe after the client returned.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.failed_handshakes.load(Ordering::SeqCst) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        seen.failed_handshakes.load(Ordering::SeqCst),
        1,
        "the server saw the handshake fail"
    );

    // The test CA trusted: the request goes through TLS and the server's 401 comes back as an API error.
    std::env::set_var("SSL_CERT_FILE", fixture("ca.pem"));
    let err = update(&key_client(&url)).await;
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED), "{err:?}");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
}
