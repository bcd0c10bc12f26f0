//! Loading a seed file (apps and users) into a fresh embedded store for local runs.
//! The file is validated whole before anything is used: a bad file is refused with the
//! JSON path of the problem, and nothing is half-loaded.

use serde::Deserialize;

use crate::auth::password::PasswordHasher;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::service::provision::{NewApp, NewUser, build_app, build_user};
use crate::store::{AppAdmin, EmbeddedStore, UserAdmin};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub apps: Vec<NewApp>,
    #[serde(default)]
    pub users: Vec<NewUser>,
}

fn at(path: String, e: Error) -> Error {
    let message = match e {
        Error::BadRequest(m) | Error::Conflict(m) => m,
        other => other.to_string(),
    };
    Error::BadRequest(format!("seed file: {path}: {message}"))
}

impl SeedFile {
    pub fn parse(text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            Error::BadRequest(format!("seed file: {path}: {}", e.inner()))
        })
    }

    /// Builds a new store holding everything in the file, or says what is wrong.
    pub async fn into_store(
        self,
        hasher: &PasswordHasher,
        clock: &dyn Clock,
    ) -> Result<EmbeddedStore> {
        let store = EmbeddedStore::new();
        self.load_into(&store, hasher, clock).await?;
        Ok(store)
    }

    /// Adds the file's apps and users to `store`. Callers that need all-or-nothing
    /// pass a fresh store and drop it on error.
    pub async fn load_into(
        self,
        store: &EmbeddedStore,
        hasher: &PasswordHasher,
        clock: &dyn Clock,
    ) -> Result<()> {
        for (i, new) in self.apps.into_iter().enumerate() {
            let (app, _) = build_app(new).map_err(|e| at(format!("apps[{i}]"), e))?;
            store
                .create_app(&app)
                .await
                .map_err(|e| at(format!("apps[{i}]"), e))?;
        }
        for (i, new) in self.users.into_iter().enumerate() {
            let path = format!("users[{i}]");
            if crate::store::AppDirectory::app_by_id(store, &new.app_id)
                .await?
                .is_none()
            {
                return Err(at(
                    format!("{path}.app_id"),
                    Error::bad_request(format!("no app {:?} in the seed file", new.app_id)),
                ));
            }
            let user = build_user(new, hasher, clock).map_err(|e| at(path.clone(), e))?;
            store
                .create_user(&user)
                .await
                .map_err(|e| at(path.clone(), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::PasswordPolicy;
    use crate::clock::SystemClock;
    use crate::domain::LoginKey;
    use crate::store::CredentialLookup as _;

    async fn load(text: &str) -> Result<EmbeddedStore> {
        let hasher = PasswordHasher::new(PasswordPolicy::INSECURE_FAST)?;
        SeedFile::parse(text)?
            .into_store(&hasher, &SystemClock)
            .await
    }

    fn error_of(result: Result<EmbeddedStore>) -> String {
        match result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("seed should have been refused"),
        }
    }

    const APP: &str = r#"{"app_id":"a"}"#;

    #[tokio::test]
    async fn a_good_seed_loads_every_login_key() {
        let store = load(&format!(
            r#"{{"apps":[{APP}],"users":[{{"app_id":"a","user_id":7,"username":"Zed","phone":"+1 555 0100","email":"Z@x.io","password":"p"}}]}}"#
        ))
        .await
        .unwrap();
        for key in [
            LoginKey::UserId(7),
            LoginKey::Username("zed".into()),
            LoginKey::Phone("+15550100".into()),
            LoginKey::Email("z@x.io".into()),
        ] {
            let user = store.find_user("a", &key).await.unwrap();
            assert_eq!(user.map(|u| u.user_id), Some(7), "{key:?}");
        }
    }

    #[tokio::test]
    async fn bad_seeds_are_refused_with_the_json_path() {
        let cases = [
            (r#"{"apps":[{"app_id":7}]}"#.to_owned(), "apps[0].app_id"),
            (
                r#"{"apps":[{"app_id":"a","colour":"red"}]}"#.to_owned(),
                "apps[0]",
            ),
            (
                format!(
                    r#"{{"apps":[{APP}],"users":[{{"app_id":"a","user_id":"x","username":"u","password":"p"}}]}}"#
                ),
                "users[0].user_id",
            ),
            (
                format!(
                    r#"{{"apps":[{APP}],"users":[{{"app_id":"b","user_id":1,"username":"u","password":"p"}}]}}"#
                ),
                "users[0].app_id",
            ),
            (
                format!(
                    r#"{{"apps":[{APP}],"users":[{{"app_id":"a","user_id":1,"username":"u","password":"p"}},{{"app_id":"a","user_id":2,"username":"12345","password":"p"}}]}}"#
                ),
                "users[1]",
            ),
            (
                format!(
                    r#"{{"apps":[{APP}],"users":[{{"app_id":"a","user_id":1,"username":"u","password":"p"}},{{"app_id":"a","user_id":2,"username":"U","password":"p"}}]}}"#
                ),
                "users[1]: username already taken",
            ),
            (format!(r#"{{"apps":[{APP},{APP}]}}"#), "apps[1]"),
            ("not json".to_owned(), "seed file"),
        ];
        for (text, path) in cases {
            let message = error_of(load(&text).await);
            assert!(message.contains(path), "{message:?} should name {path:?}");
        }
    }
}
