//! Who is asking, and what of the data they may touch: the one place where an access
//! token's scopes become decisions about FHIR interactions.
//!
//! Every FHIR handler takes a [`Caller`] (an axum extractor, so no route can forget it):
//! with `--auth off` it is [`Caller::Open`]; otherwise the request must carry a valid,
//! unrevoked bearer token (401 with a `WWW-Authenticate` challenge if not). For each
//! interaction the handler asks [`Caller::reach`], which answers 403 when no scope
//! allows the interaction on the type, or the [`Reach`] of resources the caller may
//! touch:
//!
//! - `system/` scopes, and `user/` scopes of a clinician (a Practitioner or
//!   PractitionerRole user), reach every resource of the type;
//! - `patient/` scopes reach the launch patient's compartment (the R4 Patient
//!   CompartmentDefinition: an Observation whose `subject` or `performer` is the patient,
//!   the Patient itself); `user/` scopes of a Patient user reach that patient's
//!   compartment, of a RelatedPerson user the compartment of the patient they are related
//!   to. A type outside the compartment (Practitioner, Organization, …) is not reached at
//!   all, and `user/` scopes of any other user reach nothing;
//! - granular scopes (`patient/Observation.rs?category=…`) narrow that further to the
//!   resources matching one of their queries.
//!
//! A reach is expressed as search [`Criterion`]s, so every check runs through the same
//! compiled SQL as search: a search ANDs them into its own criteria (another patient's
//! data is never returned nor counted), a read or a write asks the store whether the
//! resource matches them (writes check inside their own transaction, before and after
//! writing, so a refused write leaves nothing behind). When several contexts allow an
//! interaction, the first of `system/`, `user/`, `patient/` decides.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use fhir_model::custom_params::CustomSearchParams;
use smart_auth::{Access, AccessTokenClaims, Context, Interaction};

use crate::AppState;
use crate::error::ApiError;
use crate::rest::criteria::parse_criteria_with;
use crate::store::{Criterion, ReferenceMatch, WriteTx};

/// The party behind a FHIR request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The server runs with `--auth off`: every request may do everything.
    Open,
    /// A verified, unexpired, unrevoked access token.
    Token(Arc<AccessTokenClaims>),
}

/// The resources of one type a caller may touch for one interaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    /// All of them.
    All,
    /// Only those matching every criterion (never an empty list).
    Matching(Vec<Criterion>),
}

impl Reach {
    /// Nothing at all (a type outside the caller's compartment): a criterion no
    /// resource matches (`_id` in the empty set).
    fn nothing() -> Reach {
        Reach::Matching(vec![Criterion::Id(Vec::new())])
    }

    /// The criteria to AND into a search (none for [`Reach::All`]).
    pub fn criteria(&self) -> &[Criterion] {
        match self {
            Reach::All => &[],
            Reach::Matching(c) => c,
        }
    }

    /// Whether `res_type/id`, as this transaction sees it, is within reach. For
    /// [`Reach::All`], true without asking the store.
    pub async fn admits_in(
        &self,
        tx: &mut dyn WriteTx,
        res_type: &str,
        id: &str,
    ) -> Result<bool, ApiError> {
        let Reach::Matching(criteria) = self else {
            return Ok(true);
        };
        let mut all = Vec::with_capacity(criteria.len() + 1);
        all.push(Criterion::Id(vec![id.to_owned()]));
        all.extend(criteria.iter().cloned());
        Ok(!tx.find(res_type, &all).await?.is_empty())
    }

    /// 404 (as if it were not there) unless `res_type/id`, which exists, is within this
    /// reach (a read); for [`Reach::All`], without asking the store.
    pub async fn check_readable(
        &self,
        store: &dyn crate::store::ResourceStore,
        res_type: &str,
        id: &str,
    ) -> Result<(), ApiError> {
        let Reach::Matching(criteria) = self else {
            return Ok(());
        };
        let mut all = vec![Criterion::Id(vec![id.to_owned()])];
        all.extend(criteria.iter().cloned());
        let page = store
            .search_with(res_type, &crate::store::SearchQuery::matching(all, 1))
            .await?;
        if page.resources.is_empty() {
            Err(ApiError::not_found(format!(
                "{res_type}/{id} is not known within this access token's launch context and scopes"
            )))
        } else {
            Ok(())
        }
    }

    /// In a write job, before changing `res_type/id`: 403 if it exists (not deleted) and
    /// is outside reach, so no one moves another patient's resource into their own
    /// compartment by overwriting it.
    pub async fn require_existing_in(
        &self,
        tx: &mut dyn WriteTx,
        res_type: &str,
        id: &str,
    ) -> Result<(), ApiError> {
        if *self == Reach::All {
            return Ok(());
        }
        match tx.current(res_type, id).await? {
            Some(current) if !current.deleted => self.require_in(tx, res_type, id).await,
            _ => Ok(()),
        }
    }

    /// In a write job: 403 unless `res_type/id` is within reach (the job fails, so its
    /// writes are rolled back).
    pub async fn require_in(
        &self,
        tx: &mut dyn WriteTx,
        res_type: &str,
        id: &str,
    ) -> Result<(), ApiError> {
        if self.admits_in(tx, res_type, id).await? {
            Ok(())
        } else {
            Err(outside(res_type))
        }
    }
}

/// 403 for a resource the token's compartment or granular scopes do not cover.
pub fn outside(res_type: &str) -> ApiError {
    ApiError::forbidden(format!(
        "This {res_type} is outside what the access token's scopes and launch context allow"
    ))
}

/// The scope letter of an interaction, for messages.
fn verb(interaction: Interaction) -> &'static str {
    match interaction {
        Interaction::Create => "create (c)",
        Interaction::Read => "read (r)",
        Interaction::Update => "update (u)",
        Interaction::Delete => "delete (d)",
        Interaction::Search => "search (s)",
    }
}

impl Caller {
    /// What of `res_type` this caller may touch with `interaction`; 403 when no granted
    /// scope allows it. `params` and `base_url` parse granular scope queries as search
    /// parameters.
    pub fn reach(
        &self,
        res_type: &str,
        interaction: Interaction,
        params: &CustomSearchParams,
        base_url: &str,
    ) -> Result<Reach, ApiError> {
        let claims = match self {
            Caller::Open => return Ok(Reach::All),
            Caller::Token(claims) => claims,
        };
        for context in [Context::System, Context::User, Context::Patient] {
            let access = claims.scope.access(context, res_type, interaction);
            if access == Access::Denied {
                continue;
            }
            let mut criteria = Vec::new();
            let compartment = match context {
                Context::System => None,
                Context::User => match user_reach(claims) {
                    UserReach::Everything => None,
                    UserReach::Patient(patient) => Some(patient),
                    UserReach::Nothing => return Ok(Reach::nothing()),
                },
                Context::Patient => Some(claims.patient.as_deref().ok_or_else(|| {
                    ApiError::forbidden(
                        "patient/ scopes need a patient in the launch context, and this token has none",
                    )
                })?),
            };
            if let Some(patient) = compartment {
                match compartment_criterion(res_type, patient) {
                    Some(c) => criteria.push(c),
                    None => return Ok(Reach::nothing()),
                }
            }
            if let Access::Restricted(queries) = access {
                let mut any = Vec::with_capacity(queries.len());
                for query in &queries {
                    let parsed = parse_criteria_with(params, res_type, &query.params, base_url)
                        .map_err(|e| {
                            ApiError::forbidden(format!(
                                "A granular scope of this token cannot be applied: {}",
                                e.issues
                                    .first()
                                    .map(|i| i.diagnostics.as_str())
                                    .unwrap_or("invalid")
                            ))
                        })?;
                    any.push(Criterion::AllOf(parsed));
                }
                criteria.push(Criterion::AnyOf(any));
            }
            return Ok(if criteria.is_empty() {
                Reach::All
            } else {
                Reach::Matching(criteria)
            });
        }
        Err(ApiError::insufficient_scope(format!(
            "The access token's scopes do not allow {} of {res_type}",
            verb(interaction)
        )))
    }

    /// Like [`Caller::reach`], but only an unrestricted answer will do: for interactions
    /// that cannot be confined to a compartment (history of a whole type or server,
    /// `$reindex`).
    pub fn require_all(
        &self,
        res_type: &str,
        interaction: Interaction,
        params: &CustomSearchParams,
        base_url: &str,
    ) -> Result<(), ApiError> {
        match self.reach(res_type, interaction, params, base_url)? {
            Reach::All => Ok(()),
            Reach::Matching(_) => Err(ApiError::forbidden(format!(
                "This interaction on {res_type} cannot be confined to a patient's compartment or a granular scope; it needs a scope without either"
            ))),
        }
    }
}

/// What `user/` scopes reach, by who the user is.
enum UserReach<'a> {
    /// A clinician (`Practitioner`, `PractitionerRole`): every resource.
    Everything,
    /// A patient, or someone related to one (`RelatedPerson`, whose patient the sign-in
    /// put in the launch context): that patient's compartment.
    Patient(&'a str),
    /// Anyone else, or a related person without a patient: nothing.
    Nothing,
}

fn user_reach(claims: &AccessTokenClaims) -> UserReach<'_> {
    let Some(user) = claims.fhir_user.as_deref() else {
        return UserReach::Nothing;
    };
    match user.split_once('/') {
        Some(("Practitioner" | "PractitionerRole", _)) => UserReach::Everything,
        Some(("Patient", id)) => UserReach::Patient(id),
        Some(("RelatedPerson", _)) => claims
            .patient
            .as_deref()
            .map_or(UserReach::Nothing, UserReach::Patient),
        _ => UserReach::Nothing,
    }
}

/// The token of an `Authorization: Bearer <token>` header value (scheme matched without
/// regard to case, RFC 7235); `None` for another scheme or no token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
}

/// Resources of `res_type` in the compartment of `Patient/{patient}`: the Patient itself,
/// or a reference to it in one of the type's compartment parameters. `None` when the
/// type is not in the Patient compartment at all.
pub fn compartment_criterion(res_type: &str, patient: &str) -> Option<Criterion> {
    if res_type == "Patient" {
        return Some(Criterion::Id(vec![patient.to_owned()]));
    }
    let params = fhir_model::compartment::patient_compartment_params(res_type)?;
    Some(Criterion::AnyOf(
        params
            .iter()
            .map(|param| Criterion::Reference {
                param: param.clone(),
                values: vec![ReferenceMatch {
                    target_type: Some("Patient".to_owned()),
                    target_id: Some(patient.to_owned()),
                    url: None,
                }],
            })
            .collect(),
    ))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(auth) = &state.auth else {
            return Ok(Caller::Open);
        };
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(header) = header else {
            return Err(ApiError::unauthorized(
                None,
                "This server needs an access token (Authorization: Bearer …); see .well-known/smart-configuration",
            ));
        };
        let token = bearer_token(header).ok_or_else(|| {
            // Another scheme, or none: a plain challenge (RFC 6750 §3.1).
            ApiError::unauthorized(
                None,
                "The Authorization header must be 'Bearer <access token>'",
            )
        })?;
        let claims = auth.verify_access_token(token).await?;
        Ok(Caller::Token(Arc::new(claims)))
    }
}

impl Caller {
    /// The resources of `resources` this caller may read (included resources of a
    /// search page): a type no granted scope lets it read is dropped whole, a type it may
    /// read only in part is checked against the store with the reach's criteria.
    pub async fn readable(
        &self,
        store: &dyn crate::store::ResourceStore,
        resources: Vec<crate::store::StoredResource>,
        params: &CustomSearchParams,
        base_url: &str,
    ) -> Result<Vec<crate::store::StoredResource>, ApiError> {
        if matches!(self, Caller::Open) || resources.is_empty() {
            return Ok(resources);
        }
        let mut types: Vec<&str> = resources.iter().map(|r| r.res_type.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        let mut allowed: std::collections::HashSet<(String, String)> =
            std::collections::HashSet::new();
        for t in types {
            let criteria = match self.reach(t, Interaction::Read, params, base_url) {
                Err(_) => continue,
                Ok(Reach::All) => {
                    allowed.extend(
                        resources
                            .iter()
                            .filter(|r| r.res_type == t)
                            .map(|r| (r.res_type.clone(), r.id.clone())),
                    );
                    continue;
                }
                Ok(Reach::Matching(criteria)) => criteria,
            };
            let ids: Vec<String> = resources
                .iter()
                .filter(|r| r.res_type == t)
                .map(|r| r.id.clone())
                .collect();
            let mut all = vec![Criterion::Id(ids.clone())];
            all.extend(criteria);
            let query = crate::store::SearchQuery::matching(all, ids.len());
            let page = store.search_with(t, &query).await?;
            allowed.extend(page.resources.into_iter().map(|r| (r.res_type, r.id)));
        }
        Ok(resources
            .into_iter()
            .filter(|r| allowed.contains(&(r.res_type.clone(), r.id.clone())))
            .collect())
    }
}
