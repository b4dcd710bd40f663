//! Reading OAuth request parameters by the rules of
//! [RFC 6749 §3.1](https://www.rfc-editor.org/rfc/rfc6749#section-3.1): a parameter sent
//! without a value is treated as omitted, and one sent more than once makes the request
//! invalid.
//!
//! Every endpoint (authorize, token, introspection, revocation) reads its query or form
//! through [`Params`], so "`scope=a&scope=b`" is refused the same way everywhere instead
//! of one endpoint taking the first value and another the last.

use crate::oauth_error::OAuthError;

/// The decoded `(name, value)` pairs of a query string or form body.
///
/// ```
/// use smart_auth::params::Params;
///
/// let pairs = vec![
///     ("grant_type".to_owned(), "authorization_code".to_owned()),
///     ("state".to_owned(), String::new()),
///     ("code".to_owned(), "a".to_owned()),
///     ("code".to_owned(), "b".to_owned()),
/// ];
/// let params = Params::new(&pairs);
/// assert_eq!(params.get("grant_type").unwrap(), Some("authorization_code"));
/// assert_eq!(params.get("state").unwrap(), None); // empty = omitted
/// assert!(params.get("code").is_err()); // repeated
/// assert!(params.require("redirect_uri").is_err()); // missing
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Params<'a> {
    /// Wraps already-decoded pairs (e.g. from `form_urlencoded::parse`).
    pub fn new(pairs: &'a [(String, String)]) -> Params<'a> {
        Params { pairs }
    }

    /// The value of `name`: `Ok(None)` when absent or empty, `invalid_request` when it
    /// has a value more than once.
    pub fn get(&self, name: &str) -> Result<Option<&'a str>, OAuthError> {
        let mut values = self.values(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{name}` is repeated"
            )));
        }
        Ok(first)
    }

    /// The value of `name`, `invalid_request` when it is absent, empty or repeated.
    pub fn require(&self, name: &str) -> Result<&'a str, OAuthError> {
        self.get(name)?
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter `{name}` is required")))
    }

    /// Whether `name` is present with a value.
    pub fn has(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }

    /// The first parameter (in request order) that has a value more than once.
    pub fn first_repeated(&self) -> Option<&'a str> {
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in self.pairs {
            if value.is_empty() {
                continue;
            }
            if seen.contains(&name.as_str()) {
                return Some(name);
            }
            seen.push(name);
        }
        None
    }

    /// `invalid_request` naming the first repeated parameter, if any.
    pub fn check_no_repeats(&self) -> Result<(), OAuthError> {
        match self.first_repeated() {
            Some(name) => Err(OAuthError::invalid_request(format!(
                "parameter `{name}` is repeated"
            ))),
            None => Ok(()),
        }
    }

    fn values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.pairs
            .iter()
            .filter(move |(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth_error::OAuthErrorCode;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn single_values_are_returned() {
        let list = pairs(&[("a", "1"), ("b", "2")]);
        let params = Params::new(&list);
        assert_eq!(params.get("a").unwrap(), Some("1"));
        assert_eq!(params.require("b").unwrap(), "2");
        assert!(params.has("a"));
        assert_eq!(params.first_repeated(), None);
        assert!(params.check_no_repeats().is_ok());
    }

    #[test]
    fn absent_and_empty_are_the_same() {
        let list = pairs(&[("empty", "")]);
        let params = Params::new(&list);
        for name in ["empty", "absent"] {
            assert_eq!(params.get(name).unwrap(), None);
            assert!(!params.has(name));
            let error = params.require(name).unwrap_err();
            assert_eq!(error.error, OAuthErrorCode::InvalidRequest);
            assert_eq!(error.description, format!("parameter `{name}` is required"));
        }
    }

    #[test]
    fn repeated_values_are_refused() {
        let list = pairs(&[("a", "1"), ("b", "x"), ("a", "1")]);
        let params = Params::new(&list);
        let error = params.get("a").unwrap_err();
        assert_eq!(error.error, OAuthErrorCode::InvalidRequest);
        assert_eq!(error.description, "parameter `a` is repeated");
        assert!(params.require("a").is_err());
        assert_eq!(params.get("b").unwrap(), Some("x"));
        assert_eq!(params.first_repeated(), Some("a"));
        assert_eq!(
            params.check_no_repeats().unwrap_err().description,
            "parameter `a` is repeated"
        );
    }

    #[test]
    fn an_empty_repeat_is_not_a_repeat() {
        let list = pairs(&[("a", "1"), ("a", "")]);
        let params = Params::new(&list);
        assert_eq!(params.get("a").unwrap(), Some("1"));
        assert_eq!(params.first_repeated(), None);
    }

    #[test]
    fn names_are_case_sensitive() {
        let list = pairs(&[("State", "1"), ("state", "2")]);
        let params = Params::new(&list);
        assert_eq!(params.get("state").unwrap(), Some("2"));
        assert_eq!(params.first_repeated(), None);
    }
}
