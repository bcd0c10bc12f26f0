//! Easemob's user-management routes (`/{org_name}/{app_name}/users…`): wiring only;
//! the handler lives in `shared::http::users`.

use shared::http::Route;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::bootstrap::run_function(&[
        Route::Users,
        Route::User,
        Route::UserPassword,
        Route::UserDeactivate,
        Route::UserActivate,
        Route::UserDisconnect,
    ])
    .await
}
