//! SMART App Launch 2.x scopes: parse, check, narrow.
//!
//! [Scopes and Launch Context](https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)
//! is the contract between an app and this server: the token endpoint grants a
//! [`ScopeSet`], the HTTP layer asks it once per request whether an interaction is
//! allowed ([`ScopeSet::permits`]) and which granular filters it must add to a search
//! ([`ScopeSet::search_restrictions`]). Keeping this a pure function of the scope string
//! means the authorization rules are unit-tested here, never re-derived in handlers.
//!
//! Grammar accepted (space-separated, case-sensitive):
//!
//! ```text
//! resource scope = ("patient" | "user" | "system") "/" (ResourceType | "*") "." permissions
//! v2 permissions = one or more of c r u d s, in that order, each at most once,
//!                  optionally followed by "?" name "=" value *("&" name "=" value)
//! v1 permissions = "read" (= rs) | "write" (= cud) | "*" (= cruds); no query
//! other scopes   = openid fhirUser profile launch launch/patient launch/encounter
//!                  offline_access online_access
//! ```
//!
//! Scopes are additive: a request is allowed when *any* granted scope allows it, so
//! granular scopes combine with OR (two `patient/Observation.rs?category=…` scopes allow
//! either category) and the parameters inside one scope combine with AND.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Whose data a resource scope covers: the `patient/`, `user/` or `system/` prefix.
///
/// [Scopes for requesting FHIR resources](https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-fhir-resources)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// `patient/`: only data in the compartment of the patient in launch context.
    Patient,
    /// `user/`: whatever the signed-in user may see.
    User,
    /// `system/`: a backend service acting on its own authority.
    System,
}

impl Context {
    /// The prefix as written in a scope (`"patient"`, `"user"`, `"system"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Context::Patient => "patient",
            Context::User => "user",
            Context::System => "system",
        }
    }
}

/// A FHIR REST interaction, as far as scopes distinguish them.
///
/// The server maps the rest onto these: `vread` and `history` are [`Interaction::Read`],
/// `patch` is [`Interaction::Update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interaction {
    /// `c`: type-level create.
    Create,
    /// `r`: read (and vread, history of one instance).
    Read,
    /// `u`: update and patch.
    Update,
    /// `d`: delete.
    Delete,
    /// `s`: type-level or system search.
    Search,
}

/// The `cruds` letters of a resource scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions {
    /// `c`
    pub create: bool,
    /// `r`
    pub read: bool,
    /// `u`
    pub update: bool,
    /// `d`
    pub delete: bool,
    /// `s`
    pub search: bool,
}

impl Permissions {
    /// All five (`cruds`, v1 `*`).
    pub const ALL: Permissions = Permissions {
        create: true,
        read: true,
        update: true,
        delete: true,
        search: true,
    };
    /// v1 `read` = v2 `rs`.
    pub const V1_READ: Permissions = Permissions {
        create: false,
        read: true,
        update: false,
        delete: false,
        search: true,
    };
    /// v1 `write` = v2 `cud`.
    pub const V1_WRITE: Permissions = Permissions {
        create: true,
        read: false,
        update: true,
        delete: true,
        search: false,
    };

    const LETTERS: [char; 5] = ['c', 'r', 'u', 'd', 's'];

    /// Parses v2 letters: at least one of `c r u d s`, in that order, none repeated.
    fn parse_v2(scope: &str, letters: &str) -> Result<Self, Error> {
        if letters.is_empty() {
            return Err(Error::MissingPermissions {
                scope: scope.to_owned(),
            });
        }
        let mut flags = [false; 5];
        let mut last: Option<usize> = None;
        for letter in letters.chars() {
            let Some(index) = Self::LETTERS.iter().position(|&l| l == letter) else {
                return Err(Error::UnknownPermission {
                    scope: scope.to_owned(),
                    letter,
                });
            };
            if flags[index] || last.is_some_and(|l| l > index) {
                return Err(Error::PermissionOrder {
                    scope: scope.to_owned(),
                });
            }
            flags[index] = true;
            last = Some(index);
        }
        let [create, read, update, delete, search] = flags;
        Ok(Permissions {
            create,
            read,
            update,
            delete,
            search,
        })
    }

    /// Whether `interaction` is among these permissions.
    pub fn allows(self, interaction: Interaction) -> bool {
        match interaction {
            Interaction::Create => self.create,
            Interaction::Read => self.read,
            Interaction::Update => self.update,
            Interaction::Delete => self.delete,
            Interaction::Search => self.search,
        }
    }

    /// True when every permission of `other` is also in `self`.
    pub fn contains(self, other: Permissions) -> bool {
        self.intersect(other) == other
    }

    /// The permissions in both.
    pub fn intersect(self, other: Permissions) -> Permissions {
        Permissions {
            create: self.create && other.create,
            read: self.read && other.read,
            update: self.update && other.update,
            delete: self.delete && other.delete,
            search: self.search && other.search,
        }
    }

    /// No permission at all (never the result of parsing; can come from an intersection).
    pub fn is_empty(self) -> bool {
        self == Permissions::default()
    }

    fn flags(self) -> [bool; 5] {
        [
            self.create,
            self.read,
            self.update,
            self.delete,
            self.search,
        ]
    }
}

impl fmt::Display for Permissions {
    /// The v2 letters, e.g. `rs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, on) in Self::LETTERS.iter().zip(self.flags()) {
            if on {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// The resource type of a resource scope: a named type or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// `*`: every resource type.
    Any,
    /// One resource type, e.g. `Observation`.
    Named(String),
}

impl ResourceType {
    /// Whether this covers `resource_type` (`*` covers everything).
    pub fn matches(&self, resource_type: &str) -> bool {
        match self {
            ResourceType::Any => true,
            ResourceType::Named(name) => name == resource_type,
        }
    }

    fn contains(&self, other: &ResourceType) -> bool {
        match (self, other) {
            (ResourceType::Any, _) => true,
            (ResourceType::Named(a), ResourceType::Named(b)) => a == b,
            (ResourceType::Named(_), ResourceType::Any) => false,
        }
    }

    fn intersect(&self, other: &ResourceType) -> Option<ResourceType> {
        match (self, other) {
            (ResourceType::Any, t) | (t, ResourceType::Any) => Some(t.clone()),
            (ResourceType::Named(a), ResourceType::Named(b)) if a == b => Some(self.clone()),
            _ => None,
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceType::Any => f.write_str("*"),
            ResourceType::Named(name) => f.write_str(name),
        }
    }
}

/// The search parameters of one granular scope (`?category=…&code=…`), combined with AND.
///
/// Names and values are kept exactly as written in the scope (SMART writes them
/// unencoded, e.g. `category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Query {
    /// `(name, value)` pairs in scope order.
    pub params: Vec<(String, String)>,
}

impl Query {
    fn parse(scope: &str, text: &str) -> Result<Query, Error> {
        let invalid = |reason: &str| Error::InvalidQuery {
            scope: scope.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("`?` must be followed by name=value"));
        }
        let mut params = Vec::new();
        for pair in text.split('&') {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(invalid("each parameter must be name=value"));
            };
            if name.is_empty() || value.is_empty() {
                return Err(invalid("empty parameter name or value"));
            }
            let name_ok = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
            if !name_ok {
                return Err(invalid("parameter names are search parameter names"));
            }
            params.push((name.to_owned(), value.to_owned()));
        }
        Ok(Query { params })
    }

    /// True when every parameter of `self` also appears in `other`, i.e. `other` is at
    /// least as restrictive.
    fn is_subset_of(&self, other: &Query) -> bool {
        self.params.iter().all(|p| other.params.contains(p))
    }

    fn union(&self, other: &Query) -> Query {
        let mut params = self.params.clone();
        for p in &other.params {
            if !params.contains(p) {
                params.push(p.clone());
            }
        }
        Query { params }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

/// Which spelling of the scope grammar a resource scope was written in; kept so a
/// granted scope is echoed back exactly as requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// SMART 1.0: `.read`, `.write`, `.*`.
    V1,
    /// SMART 2.x: `.cruds` letters, optional `?query`.
    V2,
}

/// One `patient|user|system / Type . permissions [?query]` scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceScope {
    /// `patient/`, `user/` or `system/`.
    pub context: Context,
    /// The resource type, or `*`.
    pub resource_type: ResourceType,
    /// The permissions, normalised to v2 (v1 `read` = `rs`, `write` = `cud`, `*` = `cruds`).
    pub permissions: Permissions,
    /// Granular restriction (v2 only); `None` when unrestricted.
    pub query: Option<Query>,
    /// The spelling the scope was written in.
    pub syntax: Syntax,
}

impl ResourceScope {
    fn parse(scope: &str) -> Result<ResourceScope, Error> {
        let (prefix, rest) = scope.split_once('/').ok_or_else(|| Error::UnknownScope {
            scope: scope.to_owned(),
        })?;
        let context = match prefix {
            "patient" => Context::Patient,
            "user" => Context::User,
            "system" => Context::System,
            _ => {
                return Err(Error::UnknownScope {
                    scope: scope.to_owned(),
                });
            }
        };
        if rest.is_empty() {
            return Err(Error::MissingResourceType {
                scope: scope.to_owned(),
            });
        }
        let (type_text, perm_text) =
            rest.split_once('.')
                .ok_or_else(|| Error::MissingPermissions {
                    scope: scope.to_owned(),
                })?;
        let resource_type = match type_text {
            "" => {
                return Err(Error::MissingResourceType {
                    scope: scope.to_owned(),
                });
            }
            "*" => ResourceType::Any,
            name if is_resource_type_name(name) => ResourceType::Named(name.to_owned()),
            name => {
                return Err(Error::InvalidResourceType {
                    scope: scope.to_owned(),
                    found: name.to_owned(),
                });
            }
        };
        let (letters, query_text) = match perm_text.split_once('?') {
            Some((letters, query)) => (letters, Some(query)),
            None => (perm_text, None),
        };
        let v1 = match letters {
            "read" => Some(Permissions::V1_READ),
            "write" => Some(Permissions::V1_WRITE),
            "*" => Some(Permissions::ALL),
            _ => None,
        };
        let (permissions, syntax) = match v1 {
            Some(permissions) => {
                if query_text.is_some() {
                    return Err(Error::InvalidQuery {
                        scope: scope.to_owned(),
                        reason: "granular `?` restrictions need v2 permissions (e.g. `.rs`), not v1 `.read`/`.write`/`.*`".to_owned(),
                    });
                }
                (permissions, Syntax::V1)
            }
            None => (Permissions::parse_v2(scope, letters)?, Syntax::V2),
        };
        let query = query_text.map(|q| Query::parse(scope, q)).transpose()?;
        Ok(ResourceScope {
            context,
            resource_type,
            permissions,
            query,
            syntax,
        })
    }

    /// Whether this scope grants `interaction` on `resource_type` in `context`,
    /// ignoring its granular restriction.
    fn grants(&self, context: Context, resource_type: &str, interaction: Interaction) -> bool {
        self.context == context
            && self.resource_type.matches(resource_type)
            && self.permissions.allows(interaction)
    }

    /// True when everything `other` allows, `self` allows too.
    pub fn contains(&self, other: &ResourceScope) -> bool {
        self.context == other.context
            && self.resource_type.contains(&other.resource_type)
            && self.permissions.contains(other.permissions)
            && match (&self.query, &other.query) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(mine), Some(theirs)) => mine.is_subset_of(theirs),
            }
    }

    /// What both scopes allow, or `None` if they share nothing. Written in v2 syntax
    /// unless one scope contains the other (then that one is returned as written).
    pub fn intersect(&self, other: &ResourceScope) -> Option<ResourceScope> {
        if self.contains(other) {
            return Some(other.clone());
        }
        if other.contains(self) {
            return Some(self.clone());
        }
        if self.context != other.context {
            return None;
        }
        let resource_type = self.resource_type.intersect(&other.resource_type)?;
        let permissions = self.permissions.intersect(other.permissions);
        if permissions.is_empty() {
            return None;
        }
        let query = match (&self.query, &other.query) {
            (None, None) => None,
            (Some(q), None) | (None, Some(q)) => Some(q.clone()),
            (Some(a), Some(b)) => Some(a.union(b)),
        };
        Some(ResourceScope {
            context: self.context,
            resource_type,
            permissions,
            query,
            syntax: Syntax::V2,
        })
    }
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}.", self.context.as_str(), self.resource_type)?;
        let v1 = match self.permissions {
            Permissions::V1_READ => Some("read"),
            Permissions::V1_WRITE => Some("write"),
            Permissions::ALL => Some("*"),
            _ => None,
        };
        match (self.syntax, v1) {
            (Syntax::V1, Some(word)) => f.write_str(word)?,
            _ => write!(f, "{}", self.permissions)?,
        }
        if let Some(query) = &self.query {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

/// A FHIR resource type name: an ASCII letter-led identifier starting upper-case
/// (`Observation`, `MedicationRequest`). Existence is the server's business.
fn is_resource_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(|c| c.is_ascii_alphanumeric())
}

/// One scope of a SMART scope string.
///
/// ```
/// use smart_auth::scopes::{Context, Scope};
///
/// let scope: Scope = "patient/Observation.rs".parse().unwrap();
/// let Scope::Resource(resource) = &scope else { unreachable!() };
/// assert_eq!(resource.context, Context::Patient);
/// assert_eq!(scope.to_string(), "patient/Observation.rs");
/// assert!("patient/Observation.sr".parse::<Scope>().is_err()); // cruds order
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A clinical-data scope (`patient/Observation.rs`, `user/*.write`, …).
    Resource(ResourceScope),
    /// `openid`: an OpenID Connect id_token is requested.
    OpenId,
    /// `fhirUser`: the id_token carries the user's FHIR resource URL.
    FhirUser,
    /// `profile`: SMART 1.0 spelling of `fhirUser` (deprecated, still accepted).
    Profile,
    /// `launch`: EHR launch; the `launch` parameter carries the context.
    Launch,
    /// `launch/patient`: standalone launch asks for a patient to be selected.
    LaunchPatient,
    /// `launch/encounter`: standalone launch asks for an encounter to be selected.
    LaunchEncounter,
    /// `offline_access`: a refresh token that outlives the session.
    OfflineAccess,
    /// `online_access`: a refresh token valid while the user stays signed in.
    OnlineAccess,
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(scope: &str) -> Result<Scope, Error> {
        if scope.is_empty() {
            return Err(Error::EmptyScope);
        }
        // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        if let Some(character) = scope
            .chars()
            .find(|&c| !matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E'))
        {
            return Err(Error::InvalidCharacter {
                scope: scope.to_owned(),
                character,
            });
        }
        Ok(match scope {
            "openid" => Scope::OpenId,
            "fhirUser" => Scope::FhirUser,
            "profile" => Scope::Profile,
            "launch" => Scope::Launch,
            "launch/patient" => Scope::LaunchPatient,
            "launch/encounter" => Scope::LaunchEncounter,
            "offline_access" => Scope::OfflineAccess,
            "online_access" => Scope::OnlineAccess,
            _ => Scope::Resource(ResourceScope::parse(scope)?),
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Resource(resource) => return resource.fmt(f),
            Scope::OpenId => "openid",
            Scope::FhirUser => "fhirUser",
            Scope::Profile => "profile",
            Scope::Launch => "launch",
            Scope::LaunchPatient => "launch/patient",
            Scope::LaunchEncounter => "launch/encounter",
            Scope::OfflineAccess => "offline_access",
            Scope::OnlineAccess => "online_access",
        })
    }
}

/// What a [`ScopeSet`] allows for one `(context, type, interaction)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No granted scope covers it.
    Denied,
    /// At least one granted scope covers it without a granular restriction.
    Unrestricted,
    /// Only granular scopes cover it: the resource must match at least one of these
    /// queries (OR), each query being an AND of its parameters. The server ANDs this
    /// into searches and checks it on reads and writes of single resources.
    Restricted(Vec<Query>),
}

impl Access {
    /// False only for [`Access::Denied`].
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Access::Denied)
    }

    /// The restriction as plain search parameters to AND into a search, when FHIR
    /// search syntax can say it: one query is its own parameters; several one-parameter
    /// queries on the same name become one comma-joined (OR) value, e.g.
    /// `category=…|laboratory,…|vital-signs`. `Some(vec![])` means unrestricted; `None`
    /// means denied, or an OR that search parameters cannot express (the server must
    /// then filter each result itself).
    pub fn as_search_params(&self) -> Option<Vec<(String, String)>> {
        match self {
            Access::Denied => None,
            Access::Unrestricted => Some(Vec::new()),
            Access::Restricted(queries) => match queries.as_slice() {
                [] => None,
                [one] => Some(one.params.clone()),
                [first, ..] => {
                    let [(name, _)] = first.params.as_slice() else {
                        return None;
                    };
                    let mut values = Vec::with_capacity(queries.len());
                    for query in queries {
                        match query.params.as_slice() {
                            [(n, v)] if n == name && !v.contains(',') => values.push(v.as_str()),
                            _ => return None,
                        }
                    }
                    Some(vec![(name.clone(), values.join(","))])
                }
            },
        }
    }
}

/// The scopes of a request or a token, in the order written, without duplicates.
///
/// ```
/// use smart_auth::scopes::{Access, Context, Interaction, ScopeSet};
///
/// let granted: ScopeSet = "launch/patient openid fhirUser patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs patient/Patient.read"
///     .parse()
///     .unwrap();
/// assert!(granted.permits(Context::Patient, "Patient", Interaction::Read));
/// assert!(!granted.permits(Context::Patient, "Patient", Interaction::Update));
/// assert!(!granted.permits(Context::User, "Patient", Interaction::Read));
/// assert_eq!(
///     granted.search_restrictions(Context::Patient, "Observation").as_search_params(),
///     Some(vec![(
///         "category".to_owned(),
///         "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs".to_owned()
///     )])
/// );
///
/// // Refreshing may only narrow what was granted.
/// let refreshed = granted.narrow(&"patient/*.read offline_access".parse().unwrap());
/// assert_eq!(
///     refreshed.to_string(),
///     "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs patient/Patient.read"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet {
    scopes: Vec<Scope>,
}

impl ScopeSet {
    /// An empty set.
    pub fn new() -> ScopeSet {
        ScopeSet::default()
    }

    /// Parses a space-separated scope string, rejecting it whole if any scope is invalid.
    /// Runs of spaces are tolerated; an empty string is an empty set.
    pub fn parse(text: &str) -> Result<ScopeSet, Error> {
        let mut set = ScopeSet::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            set.insert(token.parse()?);
        }
        Ok(set)
    }

    /// Parses what can be parsed and returns the errors for the rest, for an authorize
    /// endpoint that grants a subset instead of failing (OAuth lets a server grant less
    /// than requested, RFC 6749 §3.3).
    pub fn parse_partial(text: &str) -> (ScopeSet, Vec<Error>) {
        let mut set = ScopeSet::new();
        let mut errors = Vec::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            match token.parse() {
                Ok(scope) => set.insert(scope),
                Err(error) => errors.push(error),
            }
        }
        (set, errors)
    }

    /// Adds a scope unless an identical one is already there.
    pub fn insert(&mut self, scope: Scope) {
        if !self.scopes.contains(&scope) {
            self.scopes.push(scope);
        }
    }

    /// Whether this exact scope is in the set.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// The scopes in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter()
    }

    /// The clinical-data scopes in order.
    pub fn resource_scopes(&self) -> impl Iterator<Item = &ResourceScope> {
        self.scopes.iter().filter_map(|s| match s {
            Scope::Resource(r) => Some(r),
            _ => None,
        })
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// No scope at all.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// True when some `patient/` scope is present: the token response must then carry a
    /// `patient` launch context.
    pub fn needs_patient_context(&self) -> bool {
        self.resource_scopes()
            .any(|r| r.context == Context::Patient)
    }

    /// Everything the set allows for `interaction` on `resource_type` in `context`.
    /// Contexts match exactly: a `user/` scope says nothing about `patient/` access.
    pub fn access(
        &self,
        context: Context,
        resource_type: &str,
        interaction: Interaction,
    ) -> Access {
        let mut queries: Vec<Query> = Vec::new();
        for scope in self.resource_scopes() {
            if !scope.grants(context, resource_type, interaction) {
                continue;
            }
            match &scope.query {
                None => return Access::Unrestricted,
                Some(query) => {
                    if !queries.contains(query) {
                        queries.push(query.clone());
                    }
                }
            }
        }
        if queries.is_empty() {
            Access::Denied
        } else {
            Access::Restricted(queries)
        }
    }

    /// Whether any scope allows `interaction` on `resource_type` in `context`, possibly
    /// with a granular restriction (see [`ScopeSet::access`] for which).
    pub fn permits(&self, context: Context, resource_type: &str, interaction: Interaction) -> bool {
        self.access(context, resource_type, interaction)
            .is_allowed()
    }

    /// The granular restrictions that apply to a search of `resource_type` in `context`:
    /// [`Access::Unrestricted`] if some search scope has none, [`Access::Restricted`]
    /// with the OR of the granular queries otherwise, [`Access::Denied`] if no scope
    /// allows the search.
    pub fn search_restrictions(&self, context: Context, resource_type: &str) -> Access {
        self.access(context, resource_type, Interaction::Search)
    }

    /// The scopes of `requested` cut down to what `self` grants, for a refresh-token
    /// request (RFC 6749 §6): the result never allows anything that `self` does not, nor
    /// anything `requested` does not. A requested scope inside a granted one is kept as
    /// written; a broader one is cut to the granted part (in v2 syntax); non-resource
    /// scopes are kept only when both sides have them.
    pub fn narrow(&self, requested: &ScopeSet) -> ScopeSet {
        let mut out = ScopeSet::new();
        for wanted in &requested.scopes {
            match wanted {
                Scope::Resource(wanted) => {
                    for granted in self.resource_scopes() {
                        if let Some(common) = granted.intersect(wanted) {
                            out.insert(Scope::Resource(common));
                        }
                    }
                }
                other if self.contains(other) => out.insert(other.clone()),
                _ => {}
            }
        }
        out.remove_subsumed();
        out
    }

    /// Drops resource scopes that another scope of the set already contains.
    fn remove_subsumed(&mut self) {
        let resources: Vec<ResourceScope> = self.resource_scopes().cloned().collect();
        self.scopes.retain(|scope| match scope {
            Scope::Resource(mine) => !resources
                .iter()
                .any(|other| other != mine && other.contains(mine)),
            _ => true,
        });
    }
}

impl FromStr for ScopeSet {
    type Err = Error;

    fn from_str(text: &str) -> Result<ScopeSet, Error> {
        ScopeSet::parse(text)
    }
}

impl fmt::Display for ScopeSet {
    /// Space-separated, as in the `scope` of a token response.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.scopes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{scope}")?;
        }
        Ok(())
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> ScopeSet {
        let mut set = ScopeSet::new();
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ScopeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ScopeSet, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ScopeSet::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> ScopeSet {
        text.parse().unwrap()
    }

    fn resource(text: &str) -> ResourceScope {
        match text.parse::<Scope>().unwrap() {
            Scope::Resource(r) => r,
            other => panic!("{text} parsed as {other:?}"),
        }
    }

    fn err(text: &str) -> Error {
        text.parse::<Scope>().unwrap_err()
    }

    const VITALS: &str =
        "category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs";
    const LABS: &str =
        "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory";

    #[test]
    fn parses_v1_scopes_as_their_v2_meaning() {
        let read = resource("patient/Observation.read");
        assert_eq!(read.context, Context::Patient);
        assert_eq!(
            read.resource_type,
            ResourceType::Named("Observation".into())
        );
        assert_eq!(read.permissions, Permissions::V1_READ);
        assert_eq!(read.permissions.to_string(), "rs");
        assert_eq!(read.syntax, Syntax::V1);

        let write = resource("user/*.write");
        assert_eq!(write.context, Context::User);
        assert_eq!(write.resource_type, ResourceType::Any);
        assert_eq!(write.permissions.to_string(), "cud");

        let all = resource("system/*.*");
        assert_eq!(all.context, Context::System);
        assert_eq!(all.permissions, Permissions::ALL);
        assert_eq!(all.permissions.to_string(), "cruds");
    }

    #[test]
    fn parses_v2_scopes_from_the_spec() {
        let rs = resource("patient/Observation.rs");
        assert_eq!(rs.permissions, Permissions::V1_READ);
        assert_eq!(rs.syntax, Syntax::V2);
        assert_eq!(rs.query, None);

        let cruds = resource("user/Appointment.cruds");
        assert_eq!(cruds.permissions, Permissions::ALL);

        let c = resource("patient/Condition.c");
        assert!(c.permissions.create && !c.permissions.read && !c.permissions.search);

        let granular = resource(&format!("patient/Observation.rs?{VITALS}"));
        assert_eq!(
            granular.query.unwrap().params,
            vec![(
                "category".to_owned(),
                "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs".to_owned()
            )]
        );

        let two = resource("user/Condition.rs?category=problem-list-item&clinical-status=active");
        assert_eq!(two.query.unwrap().params.len(), 2);
    }

    #[test]
    fn parses_the_non_resource_scopes() {
        let all = set(
            "openid fhirUser profile launch launch/patient launch/encounter offline_access online_access",
        );
        assert_eq!(
            all.iter().cloned().collect::<Vec<_>>(),
            vec![
                Scope::OpenId,
                Scope::FhirUser,
                Scope::Profile,
                Scope::Launch,
                Scope::LaunchPatient,
                Scope::LaunchEncounter,
                Scope::OfflineAccess,
                Scope::OnlineAccess,
            ]
        );
    }

    #[test]
    fn round_trips_as_written() {
        for text in [
            "patient/Observation.read",
            "user/*.write",
            "system/*.*",
            "patient/Observation.rs",
            "user/Appointment.cruds",
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
            "launch/patient",
            "fhirUser",
        ] {
            assert_eq!(text.parse::<Scope>().unwrap().to_string(), text);
        }
        // A v2 scope that happens to equal a v1 permission set stays v2.
        assert_eq!(
            resource("patient/Observation.rs").to_string(),
            "patient/Observation.rs"
        );
    }

    #[test]
    fn rejects_cruds_out_of_order_or_repeated() {
        for bad in [
            "patient/Observation.sr",
            "user/*.dc",
            "patient/Observation.rrs",
            "user/*.scrud",
        ] {
            assert!(
                matches!(err(bad), Error::PermissionOrder { ref scope } if scope == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_unknown_letters_and_words() {
        assert!(matches!(
            err("patient/Observation.rx"),
            Error::UnknownPermission { letter: 'x', .. }
        ));
        assert!(matches!(
            err("patient/Observation.R"),
            Error::UnknownPermission { letter: 'R', .. }
        ));
        // `readwrite` is neither v1 nor v2
        assert!(matches!(
            err("patient/Observation.readwrite"),
            Error::UnknownPermission { letter: 'e', .. }
        ));
    }

    #[test]
    fn rejects_incomplete_scopes() {
        assert!(matches!(err("patient/"), Error::MissingResourceType { .. }));
        assert!(matches!(
            err("patient/.rs"),
            Error::MissingResourceType { .. }
        ));
        assert!(matches!(
            err("patient/Observation"),
            Error::MissingPermissions { .. }
        ));
        assert!(matches!(
            err("patient/Observation."),
            Error::MissingPermissions { .. }
        ));
        assert!(matches!(
            err("patient/Observation.?category=x"),
            Error::MissingPermissions { .. }
        ));
        assert!(matches!(
            err("patient/observation.rs"),
            Error::InvalidResourceType { .. }
        ));
        assert!(matches!(
            err("patient/Obs-ervation.rs"),
            Error::InvalidResourceType { .. }
        ));
    }

    #[test]
    fn rejects_unknown_scopes_and_bad_characters() {
        assert!(matches!(err("email"), Error::UnknownScope { .. }));
        assert!(matches!(err("launch/location"), Error::UnknownScope { .. }));
        assert!(matches!(
            err("practitioner/Observation.rs"),
            Error::UnknownScope { .. }
        ));
        assert!(matches!(err("OpenID"), Error::UnknownScope { .. }));
        assert!(matches!(err(""), Error::EmptyScope));
        assert!(matches!(
            err("patient/Observation.rs?code=\"x\""),
            Error::InvalidCharacter { character: '"', .. }
        ));
    }

    #[test]
    fn rejects_malformed_queries() {
        assert!(matches!(
            err("patient/Observation.rs?"),
            Error::InvalidQuery { .. }
        ));
        assert!(matches!(
            err("patient/Observation.rs?category"),
            Error::InvalidQuery { .. }
        ));
        assert!(matches!(
            err("patient/Observation.rs?=x"),
            Error::InvalidQuery { .. }
        ));
        assert!(matches!(
            err("patient/Observation.rs?a=1&"),
            Error::InvalidQuery { .. }
        ));
        assert!(matches!(
            err("patient/Observation.read?category=laboratory"),
            Error::InvalidQuery { .. }
        ));
    }

    #[test]
    fn error_messages_name_the_scope() {
        assert_eq!(
            err("patient/Observation.sr").to_string(),
            "scope `patient/Observation.sr`: permissions must be in `cruds` order, each at most once"
        );
        assert_eq!(
            err("patient/").to_string(),
            "scope `patient/`: a resource type (or `*`) is required after the `/`"
        );
    }

    #[test]
    fn a_whole_string_fails_on_one_bad_scope_unless_partial() {
        assert!(ScopeSet::parse("openid patient/Observation.sr").is_err());
        let (ok, errors) =
            ScopeSet::parse_partial("openid  patient/Observation.sr patient/Patient.r");
        assert_eq!(ok.to_string(), "openid patient/Patient.r");
        assert_eq!(errors.len(), 1);
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn duplicates_are_dropped_and_order_kept() {
        let s = set("openid patient/Observation.rs openid patient/Observation.rs launch");
        assert_eq!(s.to_string(), "openid patient/Observation.rs launch");
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn permits_by_context_type_and_interaction() {
        let s = set("patient/Observation.rs user/Appointment.cruds system/*.read");
        assert!(s.permits(Context::Patient, "Observation", Interaction::Read));
        assert!(s.permits(Context::Patient, "Observation", Interaction::Search));
        assert!(!s.permits(Context::Patient, "Observation", Interaction::Create));
        assert!(!s.permits(Context::Patient, "Condition", Interaction::Read));
        assert!(!s.permits(Context::User, "Observation", Interaction::Read));
        for interaction in [
            Interaction::Create,
            Interaction::Read,
            Interaction::Update,
            Interaction::Delete,
            Interaction::Search,
        ] {
            assert!(s.permits(Context::User, "Appointment", interaction));
        }
        assert!(s.permits(Context::System, "Anything", Interaction::Search));
        assert!(!s.permits(Context::System, "Anything", Interaction::Delete));
    }

    #[test]
    fn v1_and_v2_spellings_permit_the_same() {
        let pairs = [
            ("patient/Observation.read", "patient/Observation.rs"),
            ("patient/Observation.write", "patient/Observation.cud"),
            ("patient/Observation.*", "patient/Observation.cruds"),
        ];
        for (v1, v2) in pairs {
            let (v1, v2) = (set(v1), set(v2));
            for interaction in [
                Interaction::Create,
                Interaction::Read,
                Interaction::Update,
                Interaction::Delete,
                Interaction::Search,
            ] {
                assert_eq!(
                    v1.permits(Context::Patient, "Observation", interaction),
                    v2.permits(Context::Patient, "Observation", interaction),
                    "{v1} vs {v2} for {interaction:?}"
                );
            }
        }
        assert!(set("user/*.write").permits(Context::User, "Patient", Interaction::Delete));
        assert!(!set("user/*.write").permits(Context::User, "Patient", Interaction::Read));
    }

    #[test]
    fn granular_scopes_restrict_and_combine_with_or() {
        let s = set(&format!(
            "patient/Observation.rs?{VITALS} patient/Observation.rs?{LABS}"
        ));
        let access = s.search_restrictions(Context::Patient, "Observation");
        let Access::Restricted(queries) = &access else {
            panic!("{access:?}")
        };
        assert_eq!(queries.len(), 2);
        assert_eq!(
            access.as_search_params(),
            Some(vec![(
                "category".to_owned(),
                "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs,http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
                    .to_owned()
            )])
        );
        // Reads are allowed too, subject to the same restriction.
        assert!(s.permits(Context::Patient, "Observation", Interaction::Read));
        assert!(matches!(
            s.access(Context::Patient, "Observation", Interaction::Read),
            Access::Restricted(_)
        ));
        assert_eq!(
            s.search_restrictions(Context::Patient, "Condition"),
            Access::Denied
        );
    }

    #[test]
    fn an_unrestricted_scope_lifts_granular_ones() {
        let s = set(&format!("patient/Observation.rs?{VITALS} patient/*.rs"));
        assert_eq!(
            s.search_restrictions(Context::Patient, "Observation"),
            Access::Unrestricted
        );
        assert_eq!(Access::Unrestricted.as_search_params(), Some(vec![]));
    }

    #[test]
    fn restrictions_apply_only_to_the_matching_interaction() {
        // A granular read scope plus an unrestricted search scope: search is free,
        // read is restricted.
        let s = set(&format!(
            "patient/Observation.r?{VITALS} patient/Observation.s"
        ));
        assert_eq!(
            s.search_restrictions(Context::Patient, "Observation"),
            Access::Unrestricted
        );
        assert!(matches!(
            s.access(Context::Patient, "Observation", Interaction::Read),
            Access::Restricted(_)
        ));
    }

    #[test]
    fn mixed_ors_are_not_flattened_into_search_params() {
        let s = set("patient/Observation.rs?category=a&code=b patient/Observation.rs?category=c");
        let access = s.search_restrictions(Context::Patient, "Observation");
        assert!(matches!(&access, Access::Restricted(q) if q.len() == 2));
        assert_eq!(access.as_search_params(), None);
        let single = set("patient/Observation.rs?category=a&code=b");
        assert_eq!(
            single
                .search_restrictions(Context::Patient, "Observation")
                .as_search_params(),
            Some(vec![
                ("category".into(), "a".into()),
                ("code".into(), "b".into())
            ])
        );
    }

    #[test]
    fn narrow_keeps_requested_subsets_as_written() {
        let granted = set("openid fhirUser offline_access patient/*.read");
        let narrowed = granted.narrow(&set("patient/Observation.rs openid"));
        assert_eq!(narrowed.to_string(), "patient/Observation.rs openid");
    }

    #[test]
    fn narrow_never_broadens() {
        let granted = set("patient/Observation.rs launch/patient");
        // Broader permissions, other types, other contexts and new scopes are cut away.
        let narrowed = granted.narrow(&set(
            "patient/*.cruds user/Observation.rs launch/patient offline_access",
        ));
        assert_eq!(
            narrowed.to_string(),
            "patient/Observation.rs launch/patient"
        );
        for interaction in [
            Interaction::Create,
            Interaction::Update,
            Interaction::Delete,
        ] {
            assert!(!narrowed.permits(Context::Patient, "Observation", interaction));
        }
        assert!(!narrowed.permits(Context::User, "Observation", Interaction::Read));
        assert!(!narrowed.contains(&Scope::OfflineAccess));
    }

    #[test]
    fn narrow_intersects_partly_overlapping_scopes() {
        let granted = set("user/Observation.cruds");
        let narrowed = granted.narrow(&set("user/*.read"));
        assert_eq!(narrowed.to_string(), "user/Observation.rs");
        // Granular restrictions survive narrowing, in either direction.
        let granted = set(&format!("patient/Observation.rs?{VITALS}"));
        assert_eq!(
            granted.narrow(&set("patient/Observation.read")).to_string(),
            format!("patient/Observation.rs?{VITALS}")
        );
        let granted = set("patient/*.rs");
        assert_eq!(
            granted
                .narrow(&set(&format!("patient/Observation.rs?{VITALS}")))
                .to_string(),
            format!("patient/Observation.rs?{VITALS}")
        );
        // Two restrictions AND together.
        let granted = set("patient/Observation.rs?category=a");
        assert_eq!(
            granted
                .narrow(&set("patient/Observation.r?code=b"))
                .to_string(),
            "patient/Observation.r?category=a&code=b"
        );
    }

    #[test]
    fn narrow_drops_subsumed_duplicates() {
        let granted = set("patient/*.rs patient/Observation.rs");
        let narrowed = granted.narrow(&set("patient/Observation.read"));
        assert_eq!(narrowed.to_string(), "patient/Observation.read");
        assert!(granted.narrow(&ScopeSet::new()).is_empty());
    }

    #[test]
    fn narrowing_by_itself_is_identity() {
        let granted = set(&format!(
            "openid fhirUser launch/patient offline_access patient/Observation.rs?{VITALS} patient/Patient.read user/*.cud"
        ));
        assert_eq!(granted.narrow(&granted), granted);
    }

    #[test]
    fn patient_context_is_required_by_patient_scopes() {
        assert!(set("openid patient/Observation.rs").needs_patient_context());
        assert!(!set("openid user/Observation.rs launch/patient").needs_patient_context());
    }

    #[test]
    fn serde_uses_the_scope_string() {
        let s = set("openid patient/Observation.rs");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#""openid patient/Observation.rs""#);
        assert_eq!(serde_json::from_str::<ScopeSet>(&json).unwrap(), s);
        assert!(serde_json::from_str::<ScopeSet>(r#""patient/Observation.sr""#).is_err());
    }
}
