//! The terms of a membership (role, capabilities added or removed, end date, posting windows,
//! daily quota) as a manager sets them, validated against what that manager may hand out.
use std::str::FromStr;

use steward_domain::capability::{
    Capability, CapabilitySet, MemberRights, Role, can_manage_role, effective_capabilities,
    validate_grants_within_granter, validate_overrides,
};
use steward_domain::windows::{Window, WindowInput, parse_windows};
use steward_store::MembershipTerms;

use crate::authz::AccountAccess;
use crate::error::{AppError, AppResult, FieldError};

fn parse_capability_list(field: &str, names: &[String], errors: &mut Vec<FieldError>) -> CapabilitySet {
    let mut set = CapabilitySet::EMPTY;
    for (i, n) in names.iter().enumerate() {
        match Capability::from_str(n) {
            Ok(c) => set.insert(c),
            Err(_) => errors.push(FieldError::new(format!("{field}[{i}]"), format!("`{n}` is not a capability"))),
        }
    }
    set
}

/// The terms as requested, before validation.
pub(crate) struct Requested<'a> {
    pub role: Role,
    pub grant: &'a [String],
    pub revoke: &'a [String],
    pub windows: &'a [WindowInput],
    pub daily_quota: Option<i64>,
    pub expires_at: Option<i64>,
    /// What the member holds already (nothing for an invitation): only what the terms add to it
    /// counts as handed out by the manager.
    pub holding: CapabilitySet,
}

/// Validates membership terms as `actor` sets them, adding every problem to `errors`.
pub(crate) fn build_terms(actor: &AccountAccess, r: &Requested<'_>, errors: &mut Vec<FieldError>) -> MembershipTerms {
    let grants = parse_capability_list("grant", r.grant, errors);
    let revokes = parse_capability_list("revoke", r.revoke, errors);
    if let Err(e) = validate_overrides(r.role, grants, revokes) {
        errors.push(FieldError::new("grant", e.to_string()));
    } else if let Err(e) = validate_grants_within_granter(actor.capabilities, grants) {
        errors.push(FieldError::new("grant", e.to_string()));
    } else if let Err(e) = validate_grants_within_granter(
        actor.capabilities,
        effective_capabilities(r.role, grants, revokes).difference(r.holding),
    ) {
        // Invariant 5 counts the role's own capabilities too: an editor who may manage members
        // does not make a moderator who can reply to comments when they cannot themself. What
        // the member already holds is not handed out again (suspending or reinstating a
        // moderator, or changing their windows, gives them nothing new).
        errors.push(FieldError::new(
            "role",
            format!("{e}, and this role holds it: choose another role or revoke it from the member"),
        ));
    }
    let parsed: Vec<Window> = match parse_windows(r.windows) {
        Ok(w) => w,
        Err(invalid) => {
            errors.extend(invalid.0.iter().map(|e| FieldError::new(e.field(), e.to_string())));
            Vec::new()
        }
    };
    if r.daily_quota.is_some_and(|q| !(1..=100).contains(&q)) {
        errors.push(FieldError::new("daily_quota", "must be between 1 and 100, or null for no quota"));
    }
    MembershipTerms {
        role: r.role.as_str().into(),
        grants: serde_json::to_string(&grants).unwrap_or_else(|_| "[]".into()),
        revokes: serde_json::to_string(&revokes).unwrap_or_else(|_| "[]".into()),
        expires_at: r.expires_at,
        windows: serde_json::to_string(&parsed).unwrap_or_else(|_| "[]".into()),
        daily_quota: r.daily_quota,
    }
}

/// A role a manager may hand out (never the owner's).
pub(crate) fn parse_role(raw: &str, errors: &mut Vec<FieldError>) -> Option<Role> {
    match Role::from_str(raw) {
        Ok(Role::Owner) => {
            errors.push(FieldError::new("role", "nobody can be made owner this way; the owner transfers ownership"));
            None
        }
        Ok(r) => Some(r),
        Err(_) => {
            errors.push(FieldError::new("role", "must be one of admin, editor, moderator, analyst, viewer"));
            None
        }
    }
}

/// Refuses unless `actor` may manage people in `role`.
pub(crate) fn require_manage(actor: &MemberRights, role: Role) -> AppResult<()> {
    if can_manage_role(actor, role) {
        Ok(())
    } else if role == Role::Admin {
        Err(AppError::Forbidden("only the owner manages admins".into()))
    } else {
        Err(AppError::Forbidden(format!("you may not manage {}s on this account", role.as_str())))
    }
}
