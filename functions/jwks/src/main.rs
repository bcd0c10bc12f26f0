//! `GET /.well-known/jwks.json`: wiring only; the handler lives in `shared::http`.

use shared::http::Route;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::bootstrap::run_function(&[Route::Jwks]).await
}
