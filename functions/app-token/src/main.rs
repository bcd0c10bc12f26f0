//! `POST /{org_name}/{app_name}/token` (Easemob): wiring only; the handler lives in
//! `shared::http`.

use shared::http::Route;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::bootstrap::run_function(&[Route::AppToken]).await
}
