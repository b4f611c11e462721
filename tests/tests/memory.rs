//! Peak memory while reading hostile answers, measured by a counting allocator. A test binary of its own, with one
//! test, so that no other test's allocations are counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use etoro_client::{Error, Problem, TokenUpdate, Uuid};
use etoro_client_tests::{key_builder, key_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Counts the bytes in use and their high-water mark.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    /// The system's own reallocation (which grows large blocks in place, by remapping), counted by its growth.
    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                let now = IN_USE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

/// A server that answers every request with `head` and then `body_bytes` of `x`, written from a static buffer so
/// that the server itself allocates nothing per byte.
async fn streaming_server(head: &'static str, body_bytes: usize) -> String {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(head.as_bytes()).await;
                let mut left = body_bytes;
                while left > 0 {
                    let n = left.min(CHUNK.len());
                    if stream.write_all(&CHUNK[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                }
            });
        }
    });
    url
}

/// Runs `call` and returns what it returned and the most memory in use above the level before it.
async fn peak_during<T>(call: impl std::future::Future<Output = T>) -> (T, usize) {
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let output = call.await;
    (output, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

#[tokio::test]
async fn hostile_answers_are_read_within_their_caps() {
    // A 100 MB success body, chunked (no length announced): read up to the 16 MiB cap, then refused.
    let url = streaming_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: identity\r\nconnection: close\r\n\r\n{\"scopes\":[",
        100 * 1_000_000,
    )
    .await;
    let (result, peak) = peak_during(key_client(&url).allowed_scopes()).await;
    let err = result.unwrap_err();
    let Error::UnexpectedResponse(unexpected) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(unexpected.problem, Problem::BodyTooLarge { limit: 16 * MIB });
    // Bounded by the cap, not the body: the buffer never grows past the cap.
    assert!(
        peak < 16 * MIB + 2 * MIB,
        "peak {} MiB while reading a 100 MB body",
        peak / MIB
    );

    // The bound follows the cap.
    let small = key_builder(&url).max_response_bytes(MIB).build().unwrap();
    let (result, small_peak) = peak_during(small.allowed_scopes()).await;
    assert!(matches!(result, Err(Error::UnexpectedResponse(_))), "{result:?}");
    assert!(small_peak < 3 * MIB, "peak {} KiB with a 1 MiB cap", small_peak / 1024);
    println!(
        "100 MB success body: peak {:.1} MiB above the baseline",
        peak as f64 / MIB as f64
    );

    // The same body announced by Content-Length: refused without reading it.
    let url = streaming_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n",
        100 * 1_000_000,
    )
    .await;
    let (result, peak) = peak_during(key_client(&url).allowed_scopes()).await;
    assert!(matches!(result, Err(Error::UnexpectedResponse(_))), "{result:?}");
    assert!(peak < 2 * MIB, "peak {} KiB for an announced 100 MB body", peak / 1024);

    // A 5 MiB error page: only the first 64 KiB are read.
    let url = streaming_server(
        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
        5 * MIB,
    )
    .await;
    let update = TokenUpdate::new().ips_whitelist([Ipv4Addr::LOCALHOST]);
    let (result, peak) = peak_during(key_client(&url).update_user_token(Uuid::new_v4(), Uuid::new_v4(), update)).await;
    let err = result.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500), "{err}");
    assert!(peak < MIB, "peak {} KiB while reading a 5 MiB error page", peak / 1024);
}
