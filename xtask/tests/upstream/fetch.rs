//! Documents behind URLs: served from 127.0.0.1 in these tests, never from anywhere else.

use std::time::{Duration, Instant};

use serde_json::Value;
use xtask::upstream::fetch::{fetch, Limits};

use crate::support::*;

fn small(max_bytes: u64) -> Limits {
    Limits {
        max_bytes,
        timeout: Duration::from_secs(5),
    }
}

#[test]
fn a_document_served_from_127_0_0_1_is_diffed() {
    let tree = tree();
    let mut document = snapshot();
    document["paths"][V1_PATH].as_object_mut().unwrap().remove("patch");
    let (url, server) = serve(vec![ok_response(document.to_string().as_bytes())]);

    let output = upstream(
        tree.path(),
        &["diff", &format!("{url}/openapi.json?sig=secret"), "--json"],
    );

    server.join().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(
        report["input"]["source"],
        format!("{url}/openapi.json?…"),
        "the query string is not shown"
    );
    assert!(!stdout(&output).contains("secret") && !stderr(&output).contains("secret"));
    assert_eq!(
        changes_of(&report, "breaking"),
        [(format!("PATCH {V1_PATH}"), "operation".to_owned())]
    );
}

#[test]
fn plain_http_elsewhere_and_other_schemes_are_refused_before_connecting() {
    let tree = tree();
    for (url, reason) in [
        ("http://203.0.113.7/openapi.json", "only to a literal loopback address"),
        ("http://localhost:1/openapi.json", "only to a literal loopback address"),
        ("ftp://203.0.113.7/openapi.json", "scheme \"ftp\" is not supported"),
        ("file:///etc/hostname", "scheme \"file\" is not supported"),
    ] {
        let started = Instant::now();
        let output = upstream(tree.path(), &["diff", url]);
        assert_eq!(output.status.code(), Some(2), "{url}");
        assert!(
            stderr(&output).contains(url) && stderr(&output).contains(reason),
            "{}",
            stderr(&output)
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url} was not refused at once"
        );
    }
}

#[test]
fn an_error_status_is_an_unreadable_input() {
    let tree = tree();
    let (url, server) = serve(vec![
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    ]);
    let output = upstream(tree.path(), &["diff", &format!("{url}/gone.json")]);
    server.join().unwrap();
    assert_exit(&output, 2, "404 Not Found");
}

#[test]
fn redirects_are_followed_only_where_the_rules_allow() {
    let body = br#"{"openapi": "3.0.1"}"#;
    let (url, server) = serve(vec![
        b"HTTP/1.1 302 Found\r\nLocation: /moved.json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ok_response(body),
    ]);
    assert_eq!(fetch(&format!("{url}/doc.json"), &small(1024)).unwrap(), body);
    server.join().unwrap();

    let (url, server) = serve(vec![
        b"HTTP/1.1 301 Moved\r\nLocation: http://203.0.113.7/doc.json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec(),
    ]);
    let err = fetch(&format!("{url}/doc.json"), &small(1024)).unwrap_err();
    server.join().unwrap();
    assert!(
        err.contains("refused a redirect to http://203.0.113.7/doc.json"),
        "{err}"
    );

    let redirect = b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec();
    let (url, server) = serve(vec![redirect; 6]);
    let err = fetch(&format!("{url}/again"), &small(1024)).unwrap_err();
    server.join().unwrap();
    assert!(err.contains("more than 5 redirects"), "{err}");
}

#[test]
fn downloads_stop_at_the_size_cap_with_or_without_a_length() {
    let big = vec![b' '; 4096];
    let (url, server) = serve(vec![ok_response(&big)]);
    let err = fetch(&url, &small(1024)).unwrap_err();
    server.join().unwrap();
    assert!(err.contains("larger than"), "{err}");

    let mut unsized_response = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    unsized_response.extend_from_slice(&big);
    let (url, server) = serve(vec![unsized_response]);
    let err = fetch(&url, &small(1024)).unwrap_err();
    server.join().unwrap();
    assert!(err.contains("larger than"), "{err}");
}

#[test]
fn a_server_that_never_answers_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/slow.json", listener.local_addr().unwrap());
    let limits = Limits {
        max_bytes: 1024,
        timeout: Duration::from_millis(300),
    };
    let started = Instant::now();
    let err = fetch(&url, &limits).unwrap_err();
    assert!(err.contains("no complete answer within 0.3 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(listener);
}
