//! Easemob's user-management REST routes (docs/users.md), with the app's admin token:
//! register (one user or a batch), get, delete, reset password, deactivate/activate
//! (ban) and force logout. Parsing and answering only; the rules are in
//! `service::users`.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::caller::{app_admin, source_ip};
use super::easemob::EasemobUser;
use super::request::{JsonFields, MAX_BODY_BYTES, header};
use super::respond::easemob;
use super::{Route, Services};
use crate::domain::{App, LoginKey, User};
use crate::error::{Error, Result};
use crate::service::users::{self, Registration};
use crate::service::{Acting, admin};

/// `(org_name, app_name, username, action)` of a user-management path:
/// `/{org}/{app}/users`, `/{org}/{app}/users/{username}` and
/// `/{org}/{app}/users/{username}/{password|deactivate|activate|disconnect}`.
fn parse_path(path: &str) -> Option<(&str, &str, Option<&str>, Option<&str>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    match parts.as_slice() {
        [org, app, "users"] => Some((org, app, None, None)),
        [org, app, "users", name] => Some((org, app, Some(name), None)),
        [org, app, "users", name, action] => Some((org, app, Some(name), Some(action))),
        _ => None,
    }
}

/// The user-management route serving `path`, if any.
pub fn route_for(path: &str) -> Option<Route> {
    Some(match parse_path(path)? {
        (_, _, None, _) => Route::Users,
        (_, _, Some(_), None) => Route::User,
        (_, _, Some(_), Some("password")) => Route::UserPassword,
        (_, _, Some(_), Some("deactivate")) => Route::UserDeactivate,
        (_, _, Some(_), Some("activate")) => Route::UserActivate,
        (_, _, Some(_), Some("disconnect")) => Route::UserDisconnect,
        _ => return None,
    })
}

/// Easemob's envelope of a user-management answer.
#[derive(Debug, Serialize)]
struct Envelope {
    action: &'static str,
    application: String,
    path: String,
    uri: String,
    entities: Vec<EasemobUser>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    timestamp: i64,
    duration: u128,
    organization: String,
    #[serde(rename = "applicationName")]
    application_name: String,
}

/// A registration entry as Easemob's route takes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterEntry {
    username: String,
    password: String,
}

impl From<RegisterEntry> for Registration {
    fn from(entry: RegisterEntry) -> Self {
        Registration {
            username: entry.username,
            password: Some(entry.password),
        }
    }
}

/// What an answered request produced, before it is put in the envelope.
struct Done {
    action: &'static str,
    entities: Vec<User>,
    data: Option<Value>,
    /// The audit event of a change, and the users it changed.
    audit: Option<(&'static str, Vec<i64>)>,
}

pub async fn handle(services: &Services, route: Route, req: &Request) -> Response<Body> {
    let started = Instant::now();
    easemob(answer(services, route, req, started).await)
}

async fn answer(
    services: &Services,
    route: Route,
    req: &Request,
    started: Instant,
) -> Result<Envelope> {
    let path = req.uri().path();
    let (org, app_name, username, _) =
        parse_path(path).ok_or_else(|| Error::NotFound(format!("no route for {path}")))?;
    let login = &services.login;
    let app = login.app_by_name(org, app_name).await?;
    let admin = app_admin(login, req, &app).await?;
    let done = match username {
        None => register(services, &app, req).await?,
        Some(name) => {
            let key = LoginKey::username(name)
                .map_err(|e| Error::bad_request(format!("username: {e}")))?;
            on_user(services, route, req, &app, &key).await?
        }
    };
    if let Some((event, targets)) = &done.audit {
        for user_id in targets {
            let acting = Acting {
                admin: admin.clone(),
                user_id: Some(*user_id),
                group_id: None,
                source_ip: source_ip(req),
            };
            login.record_act(event, &app, &acting);
        }
    }
    let host = header(req, "host")?.unwrap_or("localhost");
    Ok(Envelope {
        action: done.action,
        application: app.app_id.clone(),
        path: "/users".to_owned(),
        uri: format!("https://{host}{path}"),
        entities: done.entities.iter().map(EasemobUser::of).collect(),
        data: done.data,
        timestamp: login.crypto().clock.now_ms(),
        duration: started.elapsed().as_millis(),
        organization: app.org_name.clone(),
        application_name: app.app_name.clone(),
    })
}

/// `POST /users`: one object registers one user (a taken username is the error); an
/// array registers a batch (taken usernames are listed in `data`, the rest created).
async fn register(services: &Services, app: &App, req: &Request) -> Result<Done> {
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
    }
    // serde's message may quote a value (a password sent as a number), so it is not
    // passed on.
    let malformed = |_: serde_json::Error| {
        Error::bad_request(
            "malformed body: expected {\"username\": string, \"password\": string} \
             or an array of them, with no other field",
        )
    };
    let crypto = services.login.crypto();
    let store = services.users.as_ref();
    match serde_json::from_slice::<Value>(body).map_err(malformed)? {
        Value::Array(entries) => {
            let registrations = entries
                .into_iter()
                .map(|entry| serde_json::from_value::<RegisterEntry>(entry).map(Registration::from))
                .collect::<Result<Vec<_>, _>>()
                .map_err(malformed)?;
            let outcome = users::register_batch(store, crypto, &app.app_id, &registrations).await?;
            let refused: Vec<Value> = outcome
                .refused
                .iter()
                .map(|(username, e)| {
                    json!({
                        "username": username,
                        "registerUserFailReason": e.to_string(),
                    })
                })
                .collect();
            let created = outcome.created.iter().map(|u| u.user_id).collect();
            Ok(Done {
                action: "post",
                entities: outcome.created,
                data: Some(Value::Array(refused)),
                audit: Some(("admin_user_register", created)),
            })
        }
        object @ Value::Object(_) => {
            let registration = Registration::from(
                serde_json::from_value::<RegisterEntry>(object).map_err(malformed)?,
            );
            users::check_registration(&registration)?;
            let user = users::register(store, crypto, &app.app_id, &registration).await?;
            Ok(Done {
                action: "post",
                audit: Some(("admin_user_register", vec![user.user_id])),
                entities: vec![user],
                data: None,
            })
        }
        _ => Err(Error::bad_request(
            "body must be a user object or an array of them",
        )),
    }
}

async fn on_user(
    services: &Services,
    route: Route,
    req: &Request,
    app: &App,
    key: &LoginKey,
) -> Result<Done> {
    let store = services.users.as_ref();
    let crypto = services.login.crypto();
    let app_id = &app.app_id;
    // An answer naming `user`; `event` audits a change of it.
    let done = |action, event: Option<&'static str>, user: User| Done {
        action,
        audit: event.map(|e| (e, vec![user.user_id])),
        entities: vec![user],
        data: None,
    };
    match route {
        Route::User if req.method() == http::Method::DELETE => {
            let deleted = users::delete(store, app_id, key).await?;
            Ok(done("delete", Some("admin_user_delete"), deleted))
        }
        Route::User => Ok(done("get", None, users::user(store, app_id, key).await?)),
        Route::UserPassword => {
            let body = JsonFields::from_request(req)?;
            let password = body.required_str("newpassword")?.to_owned();
            users::check_password(&password)?;
            let user = users::user(store, app_id, key).await?;
            admin::set_password(store, crypto, app_id, user.user_id, password).await?;
            Ok(Done {
                action: "set user password",
                entities: Vec::new(),
                data: None,
                audit: Some(("admin_user_password", vec![user.user_id])),
            })
        }
        Route::UserDeactivate | Route::UserActivate => {
            let activated = route == Route::UserActivate;
            let user = users::user(store, app_id, key).await?;
            let user = admin::set_activated(store, crypto, app_id, user.user_id, activated).await?;
            let (action, event) = if activated {
                ("activate user", "admin_user_activate")
            } else {
                ("Deactivate user", "admin_user_deactivate")
            };
            Ok(done(action, Some(event), user))
        }
        Route::UserDisconnect => {
            let user = users::user(store, app_id, key).await?;
            users::logout(store, crypto.clock.as_ref(), app_id, user.user_id).await?;
            Ok(Done {
                action: "get",
                entities: Vec::new(),
                data: Some(json!({"result": true})),
                audit: Some(("admin_user_disconnect", vec![user.user_id])),
            })
        }
        _ => Err(Error::internal("not a user-management route")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_paths_map_to_their_routes_and_nothing_else() {
        assert_eq!(route_for("/acme/chat/users"), Some(Route::Users));
        assert_eq!(route_for("/acme/chat/users/"), Some(Route::Users));
        assert_eq!(route_for("/acme/chat/users/bob"), Some(Route::User));
        assert_eq!(
            route_for("/acme/chat/users/bob/password"),
            Some(Route::UserPassword)
        );
        assert_eq!(
            route_for("/acme/chat/users/bob/deactivate"),
            Some(Route::UserDeactivate)
        );
        assert_eq!(
            route_for("/acme/chat/users/bob/activate"),
            Some(Route::UserActivate)
        );
        assert_eq!(
            route_for("/acme/chat/users/bob/disconnect"),
            Some(Route::UserDisconnect)
        );
        assert_eq!(route_for("/acme/chat/users/bob/other"), None);
        assert_eq!(route_for("/acme/chat/token"), None);
        assert_eq!(route_for("/v1/api/user/token"), None);
        assert_eq!(route_for("/acme//users"), None);
    }
}
