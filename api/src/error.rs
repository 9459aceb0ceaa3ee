//! The one error type every operation returns, and the mapping of the
//! framework's own errors onto the same `application/problem+json` shape
//! (RFC 9457, plus a stable snake_case `code`).

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{ApiResponse, Object, payload::Json};

/// An RFC 9457 problem document.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:outpost:problem:<code>`.
    #[oai(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for people.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// A stable machine-readable code; clients branch on this.
    pub code: String,
    /// The request field at fault, as a dotted path, when there is one.
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
}

impl Problem {
    /// A problem with the given status, stable code and detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<Option<String>>) -> Self {
        Self {
            kind: format!("urn:outpost:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            field: None,
        }
    }

    /// The 500 problem: no internal detail, only where to look.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an unexpected error occurred; quote the x-request-id header when reporting it"
                .to_owned(),
        )
    }

    /// Names the request field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// Every error an operation can answer with. Each body is
/// `application/problem+json`.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request is malformed (unparseable body, bad parameter).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No valid credentials: missing, expired or revoked token or key.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The caller is known but may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such record in the caller's organisation.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request conflicts with the current state (e.g. a duplicate email).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The resource or cursor can no longer be served; the problem says what
    /// to do (for a sync cursor: discard local data and pull from the start).
    #[oai(status = 410, content_type = "application/problem+json")]
    Gone(Json<Problem>),
    /// `If-Match` names a version that is no longer current: fetch the record
    /// again (or sync) and reapply the change.
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Problem>),
    /// The request body is larger than the server accepts.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body's content type is not one the operation accepts.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// The request is well-formed but a value is invalid; `field` names it.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Too many attempts; retry after the given number of seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(
        Json<Problem>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// An unexpected server error; details are in the server log, keyed by
    /// the request id.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// A dependency is unavailable; retry after the given number of seconds.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(
        Json<Problem>,
        /// Seconds to wait before trying again.
        #[oai(header = "Retry-After")]
        u64,
    ),
}

/// The result type of every operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// 404 for a record the caller cannot see; never says whether it exists
    /// in another organisation.
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(Json(Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )))
    }

    /// 401 with a stable code.
    pub fn unauthorized(code: &str, detail: &str) -> Self {
        Self::Unauthorized(Json(Problem::new(StatusCode::UNAUTHORIZED, code, detail.to_owned())))
    }

    /// 403 with a stable code.
    pub fn forbidden(code: &str, detail: impl Into<String>) -> Self {
        Self::Forbidden(Json(Problem::new(StatusCode::FORBIDDEN, code, detail.into())))
    }

    /// 410 with a stable code.
    pub fn gone(code: &str, detail: impl Into<String>) -> Self {
        Self::Gone(Json(Problem::new(StatusCode::GONE, code, detail.into())))
    }

    /// 412: the record changed since the version the client named.
    pub fn precondition_failed(current_version: i64) -> Self {
        Self::PreconditionFailed(Json(Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "version_mismatch",
            format!("the record is at version {current_version}; fetch it again and reapply"),
        )))
    }

    /// 409 with a stable code.
    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::Conflict(Json(Problem::new(StatusCode::CONFLICT, code, detail.into())))
    }

    /// 409 for a unique value that is taken, naming its field.
    pub fn taken(key: crate::db::UniqueKey) -> Self {
        let problem = Problem::new(StatusCode::CONFLICT, key.code, key.detail.to_owned());
        Self::Conflict(Json(match key.field {
            Some(field) => problem.with_field(field),
            None => problem,
        }))
    }

    /// 422 naming the field at fault.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        Self::Unprocessable(Json(
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail.into())
                .with_field(field),
        ))
    }

    /// The error answering `problem` with its own status (one of the
    /// client-error statuses above; anything else is a fault of ours).
    pub fn from_problem(problem: Problem) -> Self {
        let body = Json(problem);
        match body.0.status {
            400 => Self::BadRequest(body),
            403 => Self::Forbidden(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            410 => Self::Gone(body),
            412 => Self::PreconditionFailed(body),
            422 => Self::Unprocessable(body),
            status => Self::internal(&format!("no answer for a problem with status {status}")),
        }
    }

    /// 429 with the seconds until the window reopens.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::TooManyRequests(
            Json(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many attempts; wait before trying again".to_owned(),
            )),
            retry_after_secs.max(1),
        )
    }

    /// 500; the cause goes to the log, never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal(Json(Problem::internal()))
    }

    /// 503 with `Retry-After`: every password-hashing slot is taken, or a
    /// push kept losing races to concurrent ones.
    pub fn busy() -> Self {
        Self::Unavailable(
            Json(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is busy with requests like this one; retry in a moment".to_owned(),
            )),
            1,
        )
    }

    /// 503 with `Retry-After` for a storage dependency that is down.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "dependency unavailable");
        Self::Unavailable(
            Json(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "a storage dependency is unavailable; retry shortly".to_owned(),
            )),
            2,
        )
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        // A unique key taken by a concurrent request (the check before the
        // insert passed for both): a conflict the client can act on. A
        // restart, a lost connection or an exhausted pool: the client can
        // retry. Anything else is a fault of ours.
        if let Some(key) = crate::db::unique_key_taken(&err) {
            return Self::taken(key);
        }
        if crate::db::is_transient(&err) { Self::unavailable(&err) } else { Self::internal(&err) }
    }
}

/// Turns any error the framework raised (unparseable body, unknown route,
/// missing credentials, …) into a problem response with a stable code.
pub fn problem_from_poem_error(err: poem::Error) -> Response {
    // poem-openapi carries an operation's own `ApiError` as an error made
    // from its response: that is already a problem, keep it as it is.
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let code = match status {
        StatusCode::BAD_REQUEST => {
            if err.is::<poem_openapi::error::ParseRequestPayloadError>() {
                "invalid_body"
            } else if err.is::<poem_openapi::error::ParseParamError>()
                || err.is::<poem_openapi::error::ParsePathError>()
            {
                "invalid_parameter"
            } else {
                "bad_request"
            }
        }
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::LENGTH_REQUIRED => "length_required",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        s if s.is_server_error() => "internal_error",
        _ => "error",
    };
    let detail = if status.is_server_error() {
        tracing::error!(error = %err, "unhandled server error");
        Problem::internal().detail.unwrap_or_default()
    } else if status == StatusCode::NOT_FOUND {
        "no such resource".to_owned()
    } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        "send the body as JSON with `Content-Type: application/json`".to_owned()
    } else if status == StatusCode::UNAUTHORIZED {
        "missing or malformed credentials: send `Authorization: Bearer <token>` or an \
         `X-Api-Key` header"
            .to_owned()
    } else {
        err.to_string()
    };
    problem_response(Problem::new(status, code, detail))
}

/// Renders a problem as a response.
pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body =
        serde_json::to_vec(&poem_openapi::types::ToJSON::to_json(&problem)).unwrap_or_default();
    Response::builder()
        .status(status)
        .content_type("application/problem+json")
        .body(body)
        .into_response()
}
