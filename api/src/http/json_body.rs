//! [`JsonBody`]: a JSON response written by serde straight to bytes, for
//! the few large responses (a pull page) where poem-openapi's `Json`,
//! which builds a `serde_json::Value` of the whole body first, costs more
//! than the work behind it. The spec sees the same operation as with
//! `Json<T>`: the schema comes from `T`'s `Type`.

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    ApiResponse,
    payload::{Json, Payload},
    registry::{MetaResponses, MetaSchemaRef, Registry},
    types::{ToJSON, Type},
};
use serde::Serialize;

/// A `200` JSON body, written by `T`'s `Serialize` (which must write what
/// its `ToJSON` would: the spec describes `ToJSON`'s form).
pub struct JsonBody<T>(pub T);

/// What `Json` sends.
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for JsonBody<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder().content_type(CONTENT_TYPE).body(body),
            // Only a map with non-string keys fails, and no view has one.
            Err(err) => {
                tracing::error!(error = %err, "a response could not be written");
                crate::error::problem_response(crate::error::Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the response could not be written".to_owned(),
                ))
            }
        }
    }
}

impl<T: Type + ToJSON + Serialize + Send> ApiResponse for JsonBody<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        <Json<T> as ApiResponse>::register(registry);
    }
}
