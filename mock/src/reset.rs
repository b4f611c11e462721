//! The reset fault: dropping a connection in the middle of a request, without an answer.
//!
//! A handler can only return responses, so the listener wraps every accepted socket in a [`ResettableStream`]
//! whose [`KillSwitch`] reaches the handler as connect info. Pulling it makes every later read and write of the
//! socket fail, so hyper abandons the connection before a single byte of the answer is written, and the socket
//! is closed with a zero linger so that the client sees a TCP reset rather than a polite end of stream.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::connect_info::Connected;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Marks a response that stands for a dropped connection, so that the recorder does not claim it was answered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResetMarker;

/// Shared by a connection's socket and the handlers of its requests; once pulled, the connection is dead.
#[derive(Clone, Debug, Default)]
pub(crate) struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    pub(crate) fn pull(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_pulled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, ResettableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, ResettableListener>) -> Self {
        stream.io().kill.clone()
    }
}

/// A TCP listener whose connections can be killed by the handlers they serve.
#[derive(Debug)]
pub(crate) struct ResettableListener(pub(crate) TcpListener);

impl Listener for ResettableListener {
    type Io = ResettableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own accept loop for TcpListener already retries transient errors (e.g. too many open files).
        let (inner, addr) = <TcpListener as Listener>::accept(&mut self.0).await;
        (
            ResettableStream {
                inner,
                kill: KillSwitch::default(),
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A TCP stream that fails every operation once its [`KillSwitch`] is pulled.
#[derive(Debug)]
pub(crate) struct ResettableStream {
    inner: TcpStream,
    kill: KillSwitch,
}

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "mock: reset fault")
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.kill.is_pulled() {
            // Zero linger turns the close into an RST. Only for killed connections: on a normal close an RST could
            // discard an answer the client has not read yet. If it fails the client still sees an early EOF.
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.kill.is_pulled() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.kill.is_pulled() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.is_pulled() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.is_pulled() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // No FIN for a killed connection: the close in `drop` must be the first thing the client sees.
        if self.kill.is_pulled() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The answer of a reset request.
///
/// Under [`crate::MockServer`] the kill switch has been pulled and this response is never written. When the
/// router is embedded in another server there is no switch, so the body fails on its first poll instead: hyper
/// then aborts the connection, which is as close to a reset as a plain handler can get.
pub(crate) fn reset_response(kill: Option<&KillSwitch>) -> Response {
    let mut response = match kill {
        Some(kill) => {
            kill.pull();
            Response::new(Body::empty())
        }
        None => Response::new(Body::from_stream(futures::stream::once(async {
            Err::<Bytes, _>(reset_error())
        }))),
    };
    response.extensions_mut().insert(ResetMarker);
    response
}
