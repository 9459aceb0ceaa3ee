//! What wraps every request: a request id, the client address, a body size
//! limit, the input rules of `input`, problem bodies for the framework's errors, logs and metrics.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, StatusCode},
    web::RemoteAddr,
};
use tracing::Instrument;

use crate::{
    caller::RequestMeta,
    error::{Problem, problem_from_poem_error, problem_response},
    state::AppState,
};

/// The request id header, read from the client when valid and always sent
/// back.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The middleware; see the module docs.
pub struct Observe {
    state: AppState,
}

impl Observe {
    /// Wraps endpoints with `state`'s limits and metrics.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint { inner, state: self.state.clone() }
    }
}

/// The endpoint `Observe` makes.
pub struct ObserveEndpoint<E> {
    inner: E,
    state: AppState,
}

fn request_id(req: &Request) -> String {
    // A client's id is kept when it is short and plain, so devices can
    // correlate their logs with ours; anything else is replaced.
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .filter(|v| v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

fn client_ip(req: &Request, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        // The last hop is the address our proxy saw; the ones before it
        // are whatever the client chose to send.
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .and_then(|v| v.trim().parse().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    match req.remote_addr() {
        RemoteAddr(poem::Addr::SocketAddr(addr)) => addr.ip(),
        _ => IpAddr::from([127, 0, 0, 1]),
    }
}

/// The methods the spec declares for the path template `path` matches, as
/// an `Allow` header value (`None` for an unknown path).
fn allowed_methods(path: &str) -> Option<String> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, String)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let Some(paths) = super::spec_value()["paths"].as_object() else { return Vec::new() };
        paths
            .iter()
            .map(|(template, operations)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let mut methods: Vec<String> = operations
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                methods.sort();
                (segments, methods.join(", "))
            })
            .collect()
    });
    let segments: Vec<&str> = path.split('/').collect();
    routes
        .iter()
        .find(|(template, _)| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
        })
        .map(|(_, methods)| methods.clone())
}

/// The metrics label of a method: the standard ones by name, anything a
/// client made up as `other`, so no client can grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// A body or parameter the framework could not parse, as a problem naming
/// the field (and the allowed values of an enumeration): the framework's
/// own message names a type, not a field (`http::locate`).
fn parse_failure(
    err: &poem::Error,
    method: &str,
    path: &str,
    body: &[u8],
    if_match_sent: bool,
) -> Option<Problem> {
    use poem_openapi::error::{ParseParamError, ParseRequestPayloadError};
    let spec = super::spec_value();
    if err.is::<ParseRequestPayloadError>() {
        let located = super::locate::body_error(spec, method, path, body)?;
        let detail = if located.field.is_empty() {
            format!("the body is {}", located.detail)
        } else {
            format!("`{}` {}", located.field, located.detail)
        };
        let problem = Problem::new(StatusCode::BAD_REQUEST, "invalid_body", detail);
        return Some(if located.field.is_empty() {
            problem
        } else {
            problem.with_field(located.field)
        });
    }
    let param = err.downcast_ref::<ParseParamError>()?;
    if param.name == super::records::IF_MATCH {
        // Missing, or not an ETag as the header's pattern has it.
        return Some(if if_match_sent {
            super::records::invalid_if_match()
        } else {
            super::records::if_match_required()
        });
    }
    let detail = match super::locate::parameter_values(spec, method, path, param.name) {
        Some(values) => format!("`{}` must be one of: {values}", param.name),
        None => format!("`{}`: {}", param.name, param.reason),
    };
    Some(Problem::new(StatusCode::BAD_REQUEST, "invalid_parameter", detail).with_field(param.name))
}

fn too_large(max: usize) -> Response {
    problem_response(Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body exceeds {max} bytes"),
    ))
}

impl<E: Endpoint> ObserveEndpoint<E> {
    async fn handle(&self, mut req: Request, method: &Method, path: &str) -> Response {
        let max = self.state.config.max_body_bytes;
        // Kept (a reference count, not a copy) to name the field of a body
        // the framework cannot parse.
        let mut sent = bytes::Bytes::new();
        let declared = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > max) {
            return too_large(max);
        }
        if let Err(problem) = super::input::check_uri_length(req.uri())
            .and_then(|()| super::input::check_headers(req.headers()))
        {
            return problem_response(problem);
        }
        if let Err(problem) = super::input::check_uri(req.uri()) {
            return problem_response(problem);
        }
        if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            // A chunked body has no length to check up front: read it with
            // the limit, so no client can make the server buffer more.
            let within = Duration::from_secs(self.state.config.connections.body_timeout_secs);
            let body = tokio::time::timeout(within, req.take_body().into_bytes_limit(max));
            let Ok(body) = body.await else {
                return problem_response(Problem::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!("the request body did not arrive within {}s", within.as_secs()),
                ));
            };
            match body {
                Ok(bytes) => {
                    if let Err(problem) = super::input::check_body(req.headers(), &bytes) {
                        return problem_response(problem);
                    }
                    sent = bytes.clone();
                    req.set_body(bytes)
                }
                Err(poem::error::ReadBodyError::PayloadTooLarge) => return too_large(max),
                Err(err) => return problem_from_poem_error(err.into()),
            }
        }
        let if_match_sent = req.headers().contains_key(poem::http::header::IF_MATCH);
        match self.inner.call(req).await {
            Ok(output) => output.into_response(),
            Err(err) => match parse_failure(&err, method.as_str(), path, &sent, if_match_sent) {
                Some(problem) => problem_response(problem),
                None => problem_from_poem_error(err),
            },
        }
    }
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let meta = RequestMeta {
            request_id: request_id(&req),
            client_ip: client_ip(&req, self.state.config.login_limits.trust_forwarded_for),
        };
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let span = tracing::info_span!("request", request_id = %meta.request_id, %method, %path);
        let request_id = meta.request_id.clone();
        req.extensions_mut().insert(meta);

        let mut response = self.handle(req, &method, &path).instrument(span.clone()).await;

        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && !response.headers().contains_key(poem::http::header::ALLOW)
            && let Some(allow) = allowed_methods(&path).and_then(|a| HeaderValue::from_str(&a).ok())
        {
            // RFC 9110 §15.5.6: a 405 names the methods the resource has.
            response.headers_mut().insert(poem::http::header::ALLOW, allow);
        }
        let status = response.status();
        let elapsed = started.elapsed();
        let metrics = &self.state.metrics;
        let method_label = method_label(&method);
        metrics.requests.with_label_values(&[method_label, status.as_str()]).inc();
        metrics.latency.with_label_values(&[method_label]).observe(elapsed.as_secs_f64());
        span.in_scope(|| {
            tracing::info!(
                status = status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "answered"
            );
        });
        Ok(response)
    }
}
