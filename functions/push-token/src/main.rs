//! The vendor push-token guide's push-token routes (`/v1/api/user/token`, `/v1/api/user/message/token`):
//! wiring only; the handlers live in `shared::http`.

use shared::http::Route;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::bootstrap::run_function(&[Route::PushRing, Route::PushMessage]).await
}
