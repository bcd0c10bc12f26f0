//! The loopback Secrets Manager the tests run `imauth keys` and the functions' key loader
//! against (through `AWS_ENDPOINT_URL_SECRETS_MANAGER`; the real service is not reachable
//! from tests). It lives in the `devtools` crate, shared with `imauth dev
//! secrets-manager`, which serves it to local runs of the functions (`sam local`).

pub use devtools::secrets_manager::SecretsManager as FakeSecretsManager;
