//! Each accepted TCP connection, before HTTP: no-delay on the socket, a cap
//! on connections per client address, and problem bodies for the answers
//! the HTTP parser gives on its own.
//!
//! - `TCP_NODELAY`: answers leave at once instead of waiting (up to 40 ms)
//!   for the client to acknowledge the previous segment.
//! - A client (an IPv4 address or IPv6 /64) may hold at most
//!   `connections.per_address` connections; one more is answered 503
//!   (problem+json) and closed, so one client cannot take every socket.
//! - A request must be answered within `connections.request_timeout_secs`
//!   of its first byte, or its connection is closed: a client stalled in
//!   its headers holds nothing for long.
//! - hyper answers some requests before any of our code sees them: a URI
//!   longer than 64 KiB (414), headers past its buffer (431), a request
//!   line or header it cannot parse (400). Those answers have no body.
//!   The stream rewrites them into `application/problem+json` with a
//!   stable code, as every other error is; they are recognised as a 4xx
//!   with `content-length: 0` and no `content-type`, which no answer of
//!   ours has.

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll, ready},
    time::Duration,
};

use poem::{
    Addr,
    http::StatusCode,
    listener::{Acceptor, TcpAcceptor},
    web::{LocalAddr, RemoteAddr, headers::HeaderName},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::TcpStream,
    time::Sleep,
};

use crate::error::Problem;

/// Open connections per client (`login::address_bucket`: an IPv4 address
/// or an IPv6 /64), shared by the acceptor and the connections it made.
type OpenCounts = Arc<Mutex<HashMap<String, usize>>>;

/// A TCP acceptor with the guards above.
pub struct GuardedAcceptor {
    inner: TcpAcceptor,
    per_address: usize,
    request_timeout: Duration,
    open: OpenCounts,
}

impl GuardedAcceptor {
    /// Guards `inner`, allowing `per_address` connections per client
    /// address (0: no cap), and closing a connection whose request is not
    /// answered within `request_timeout` of its first byte.
    pub fn new(inner: TcpAcceptor, per_address: usize, request_timeout: Duration) -> Self {
        Self { inner, per_address, request_timeout, open: OpenCounts::default() }
    }

    /// Counts a new connection from `ip`; `None` when its client holds its
    /// cap.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let client = crate::service::login::address_bucket(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(client.clone()).or_default();
        if self.per_address > 0 && *count >= self.per_address {
            return None;
        }
        *count += 1;
        Some(Slot { client, open: self.open.clone() })
    }
}

/// One counted connection; uncounted when dropped.
struct Slot {
    client: String,
    open: OpenCounts,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

impl Acceptor for GuardedAcceptor {
    type Io = GuardedStream;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        loop {
            let (stream, local, remote, scheme) = self.inner.accept().await?;
            // Best effort: a socket that refuses it still works, only slower.
            let _ = stream.set_nodelay(true);
            let ip = match &remote.0 {
                Addr::SocketAddr(addr) => Some(addr.ip()),
                _ => None,
            };
            let slot = match ip {
                Some(ip) => match self.admit(ip) {
                    Some(slot) => Some(slot),
                    None => {
                        tokio::spawn(refuse(stream));
                        continue;
                    }
                },
                None => None,
            };
            let io = GuardedStream {
                stream,
                _slot: slot,
                rewrite: None,
                request_timeout: self.request_timeout,
                deadline: None,
            };
            return Ok((io, local, remote, scheme));
        }
    }
}

/// Answers a connection over the per-address cap and closes it.
async fn refuse(mut stream: TcpStream) {
    let problem = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_connections",
        "this address holds too many open connections; close some and retry".to_owned(),
    );
    let _ = stream.write_all(&raw_response(&problem, Some(1))).await;
    let _ = stream.shutdown().await;
}

/// A whole HTTP/1.1 response carrying `problem`, that closes the connection.
fn raw_response(problem: &Problem, retry_after: Option<u64>) -> Vec<u8> {
    let body = serde_json::json!({
        "type": problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
    })
    .to_string();
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
    let retry = retry_after.map(|s| format!("retry-after: {s}\r\n")).unwrap_or_default();
    let request_id: HeaderName = HeaderName::from_static(super::middleware::REQUEST_ID_HEADER);
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\n\
         connection: close\r\n{retry}{request_id}: {}\r\n\r\n{body}",
        status.as_str(),
        status.canonical_reason().unwrap_or("Error"),
        body.len(),
        uuid::Uuid::now_v7(),
    )
    .into_bytes()
}

/// The problem for an answer hyper wrote on its own, if `head` is one.
fn parser_answer(written: &[u8]) -> Option<Problem> {
    // Cheap for every other write (pull pages run to megabytes): the
    // prefix first, then only the head.
    if !written.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let end = written.windows(4).position(|w| w == b"\r\n\r\n").map_or(written.len(), |i| i + 4);
    let head = std::str::from_utf8(&written[..end]).ok()?;
    let status = head.strip_prefix("HTTP/1.1 4")?.get(..2).map(|rest| format!("4{rest}"))?;
    let lower = head.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("\r\ncontent-type:") {
        return None;
    }
    let (status, code, detail) = match status.as_str() {
        "414" => (StatusCode::URI_TOO_LONG, "uri_too_long", "the request URI is too long"),
        "431" => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "the request headers are too large",
        ),
        "400" => (StatusCode::BAD_REQUEST, "bad_request", "the request is not valid HTTP/1.1"),
        other => {
            let status = other.parse().ok().and_then(|s| StatusCode::from_u16(s).ok())?;
            (status, "bad_request", "the request was refused before it was read")
        }
    };
    Some(Problem::new(status, code, detail.to_owned()))
}

/// A connection's stream with the guards above.
pub struct GuardedStream {
    stream: TcpStream,
    _slot: Option<Slot>,
    /// A rewritten answer still to be sent, and how much of it has gone.
    rewrite: Option<(Vec<u8>, usize)>,
    /// How long a request may go unanswered from its first byte.
    request_timeout: Duration,
    /// When the request being read must have been answered by: set by its
    /// first byte, cleared by the first byte of the answer. The framework
    /// closes idle connections, but not one stalled in the middle of its
    /// first request's headers; this does.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    /// Sends what is left of a rewritten answer.
    fn poll_rewrite(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = self.rewrite.as_mut() {
            if *sent == bytes.len() {
                break;
            }
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(deadline) = this.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request was not complete and answered in time",
            )));
        }
        let before = buf.filled().len();
        let read = ready!(Pin::new(&mut this.stream).poll_read(cx, buf));
        if read.is_ok() && buf.filled().len() > before && this.deadline.is_none() {
            let mut deadline = Box::pin(tokio::time::sleep(this.request_timeout));
            // Polled once so it wakes this connection when it passes.
            let _ = deadline.as_mut().poll(cx);
            this.deadline = Some(deadline);
        }
        Poll::Ready(read)
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.rewrite.is_none()
            && let Some(problem) = parser_answer(buf)
        {
            // hyper closes the connection after such an answer; what it
            // wrote is replaced whole.
            this.rewrite = Some((raw_response(&problem, None), 0));
            return Poll::Ready(Ok(buf.len()));
        }
        ready!(this.poll_rewrite(cx))?;
        if this.rewrite.is_some() {
            // Nothing follows a rewritten answer.
            return Poll::Ready(Ok(buf.len()));
        }
        // The request is being answered.
        this.deadline = None;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_rewrite(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_rewrite(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    /// Not vectored, so hyper writes an answer's head as one buffer, which
    /// is what `parser_answer` reads.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parsers_own_answers_are_recognised_and_ours_are_not() {
        let hyper = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(parser_answer(hyper).unwrap().code, "uri_too_long");
        let hyper = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(parser_answer(hyper).unwrap().code, "headers_too_large");
        let hyper = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(parser_answer(hyper).unwrap().code, "bad_request");
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 0\r\n\r\n";
        assert!(parser_answer(ours).is_none());
        assert!(parser_answer(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").is_none());
        let response =
            String::from_utf8(raw_response(&parser_answer(hyper).unwrap(), None)).unwrap();
        assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{response}");
        assert!(response.contains("content-type: application/problem+json"));
        assert!(response.ends_with(r#""code":"bad_request","detail":"the request is not valid HTTP/1.1","status":400,"title":"Bad Request","type":"urn:outpost:problem:bad_request"}"#), "{response}");
    }
}
