//! A do-nothing `lambda_http` function built exactly like the imauth functions (same
//! `lambda_http` features, current-thread tokio, release profile): it answers every
//! event with `200 {}`. `coldstart` (bench/tools/src/bin/coldstart.rs) compares each function's
//! init and first invocation with this one's.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        let mut response = Response::new(Body::Text("{}".to_owned()));
        response.headers_mut().insert(
            "content-type",
            lambda_http::http::HeaderValue::from_static("application/json"),
        );
        Ok::<_, Error>(response)
    }))
    .await
}
