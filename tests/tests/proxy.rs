//! Proxies from the environment. A test binary of its own: it sets proxy variables for the whole process.
//!
//! - A loopback `http://` base URL never goes through a proxy (the keys would travel in clear to it).
//! - An `https://` base URL goes through the configured proxy, as companies expect (TLS still runs end to end).

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etoro_client::{Client, RetryPolicy, TokenUpdate, Uuid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A "proxy" on 127.0.0.1 that records the first bytes of every connection and refuses it.
async fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = vec![0; 8192];
            let read = stream.read(&mut buffer).await.unwrap_or(0);
            record
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buffer[..read]).into_owned());
            let _ = stream
                .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (url, seen)
}

/// A target on 127.0.0.1 that answers 204 to everything and counts requests.
async fn target() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(Mutex::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = vec![0; 8192];
            let _ = stream.read(&mut buffer).await;
            *counter.lock().unwrap() += 1;
            let _ = stream
                .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (url, count)
}

#[tokio::test]
async fn loopback_never_goes_through_a_proxy_and_https_does() {
    let (proxy, seen) = recording_proxy().await;
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        std::env::set_var(name, &proxy);
    }
    for name in ["NO_PROXY", "no_proxy"] {
        std::env::remove_var(name);
    }
    let update = || TokenUpdate::new().ips_whitelist([Ipv4Addr::new(203, 0, 113, 7)]);

    // Loopback over plain http: straight to the target, the proxy sees nothing.
    let (target_url, requests) = target().await;
    let client = Client::builder()
        .base_url(&target_url)
        .api_keys("proxy-test-api-key", "proxy-test-user-key")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    client
        .update_user_token(Uuid::new_v4(), Uuid::new_v4(), update())
        .await
        .unwrap();
    assert_eq!(*requests.lock().unwrap(), 1, "the loopback target got the request");
    assert!(
        seen.lock().unwrap().is_empty(),
        "the proxy received {:?}",
        seen.lock().unwrap()
    );

    // https to eToro: through the configured proxy, as a CONNECT tunnel (so the proxy never sees the keys). The
    // proxy refuses, so nothing leaves this machine.
    let client = Client::builder()
        .api_keys("proxy-test-api-key", "proxy-test-user-key")
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let err = client
        .update_user_token(Uuid::new_v4(), Uuid::new_v4(), update())
        .await
        .unwrap_err();
    assert!(matches!(err, etoro_client::Error::Transport { .. }), "{err:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with("CONNECT public-api.etoro.com:443"), "{:?}", seen[0]);
    assert!(
        !seen[0].contains("proxy-test-api-key"),
        "the keys travel inside the tunnel only"
    );
}
