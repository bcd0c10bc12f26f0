//! `POST /token/refresh` and `POST /token/revoke`: wiring only; the handlers live in
//! `shared::http`.

use shared::http::Route;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::bootstrap::run_function(&[Route::TokenRefresh, Route::TokenRevoke]).await
}
