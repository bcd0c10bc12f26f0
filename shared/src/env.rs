//! The process environment, read in one place: every setting a function takes from its
//! environment goes through [`var`] (the list is in [`crate::config`]).

/// The DynamoDB table of the functions and of `imauth serve --store dynamodb`.
pub const TABLE_NAME: &str = "TABLE_NAME";

/// An environment variable, unless unset or blank.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether the DynamoDB endpoint from the environment is on this machine.
pub fn dynamo_endpoint_is_loopback() -> bool {
    let Some(url) = var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| var("AWS_ENDPOINT_URL")) else {
        return false;
    };
    is_loopback_url(&url)
}

fn is_loopback_url(url: &str) -> bool {
    let authority = url.split("://").nth(1).unwrap_or(url);
    ["127.0.0.1:", "localhost:", "[::1]:"]
        .iter()
        .any(|loopback| authority.starts_with(loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_endpoints_on_this_machine_are_loopback() {
        for local in [
            "http://127.0.0.1:8000",
            "http://localhost:8000",
            "http://[::1]:8000",
        ] {
            assert!(is_loopback_url(local), "{local}");
        }
        for remote in [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://127.0.0.1.example.com:80",
            "http://10.0.0.1:8000",
        ] {
            assert!(!is_loopback_url(remote), "{remote}");
        }
    }
}
