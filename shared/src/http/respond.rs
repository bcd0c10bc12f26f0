//! The one mapping from [`Error`] to an HTTP response, and the vendor login API's envelope.

use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use crate::error::Error;

/// The status code an error answers with.
pub fn status_of(error: &Error) -> u16 {
    match error {
        Error::BadRequest(_) | Error::UnknownApp(_) | Error::UnsupportedGrantType(_) => 400,
        Error::BadCredentials | Error::Locked | Error::Unauthorized(_) | Error::RefreshReused => {
            401
        }
        Error::Banned | Error::Forbidden(_) => 403,
        Error::NotFound(_) => 404,
        Error::MethodNotAllowed(_) => 405,
        Error::Conflict(_) => 409,
        Error::PayloadTooLarge(_) => 413,
        Error::Internal(_) | Error::Config(_) => 500,
        Error::Unavailable(_) => 503,
    }
}

/// The message a client sees. Internal detail is logged here and replaced by a generic
/// sentence; everything else was written to be shown.
pub fn client_message(error: &Error) -> String {
    match error {
        Error::Internal(detail) | Error::Config(detail) => {
            tracing::error!(detail = %detail, "internal error");
            "internal error; it has been logged".to_owned()
        }
        Error::BadCredentials | Error::Locked => "invalid user or password".to_owned(),
        Error::Banned => "user is banned".to_owned(),
        Error::Unavailable(_) => {
            tracing::warn!(error = %error, "store unavailable");
            "service temporarily unavailable, please try again".to_owned()
        }
        other => other.to_string(),
    }
}

pub fn json_response(status: u16, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body)
        .unwrap_or_else(|_| r#"{"code":500,"data":null,"message":"internal error"}"#.to_owned());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The vendor login API's `{code, data, message}`: HTTP status equals `code`; `message` is null on
/// success and `data` null on failure.
pub fn envelope<T: Serialize>(result: Result<T, Error>) -> Response<Body> {
    match result {
        Ok(data) => json_response(200, &json!({"code": 200, "data": data, "message": null})),
        Err(error) => {
            crate::metrics::record_error(&error);
            let status = status_of(&error);
            json_response(
                status,
                &json!({"code": status, "data": null, "message": client_message(&error)}),
            )
        }
    }
}

/// Easemob's error code and status for an error (Easemob's user-token API): bad credentials and a
/// banned user are both 400 `invalid_grant`, an unknown org/app is 404.
fn easemob_error(error: &Error) -> (u16, &'static str, String) {
    let message = client_message(error);
    match error {
        Error::BadCredentials | Error::Locked => {
            (400, "invalid_grant", "invalid username or password".into())
        }
        Error::Banned => (400, "invalid_grant", "user not activated".into()),
        Error::UnknownApp(_) => (404, "organization_application_not_found", message),
        Error::UnsupportedGrantType(_) => (400, "unsupported_grant_type", message),
        Error::BadRequest(_) => (400, "illegal_argument", message),
        Error::Unauthorized(_) | Error::RefreshReused => (401, "unauthorized", message),
        Error::Forbidden(_) => (403, "forbidden_op", message),
        Error::NotFound(_) => (404, "service_resource_not_found", message),
        Error::MethodNotAllowed(_) => (405, "method_not_allowed", message),
        // Easemob answers a taken username with a 400, not a 409.
        Error::Conflict(_) => (400, "duplicate_unique_property_exists", message),
        Error::PayloadTooLarge(_) => (413, "request_entity_too_large", message),
        Error::Unavailable(_) => (503, "service_unavailable", message),
        Error::Internal(_) | Error::Config(_) => (500, "internal_server_error", message),
    }
}

/// Easemob's shapes: the grant object on success, `{error, error_description}` on
/// failure.
pub fn easemob<T: Serialize>(result: Result<T, Error>) -> Response<Body> {
    match result {
        Ok(body) => json_response(200, &body),
        Err(error) => {
            crate::metrics::record_error(&error);
            let (status, code, description) = easemob_error(&error);
            json_response(
                status,
                &json!({"error": code, "error_description": description}),
            )
        }
    }
}
