//! Roles and capabilities (DESIGN.md, "Roles and capabilities").
//!
//! Capabilities are a closed enum and roles are named presets of them. A membership may add
//! (`grant`) or remove (`revoke`) single capabilities on top of its role; the rules here decide
//! which overrides are legal and what a member ends up holding.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One thing a member may do on a social account. The serde and `as_str` names are the
/// API's names and are part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Capability {
    /// The account, its posts, calendar and platform comments.
    #[serde(rename = "account.view")]
    AccountView,
    #[serde(rename = "analytics.view")]
    AnalyticsView,
    /// Create drafts, edit own drafts, submit them for review.
    #[serde(rename = "drafts.create")]
    DraftsCreate,
    /// Edit anyone's drafts.
    #[serde(rename = "drafts.edit_any")]
    DraftsEditAny,
    /// Comment in review threads.
    #[serde(rename = "review.comment")]
    ReviewComment,
    #[serde(rename = "posts.approve")]
    PostsApprove,
    /// Schedule or publish approved posts.
    #[serde(rename = "posts.publish")]
    PostsPublish,
    /// Reply to and hide platform comments.
    #[serde(rename = "comments.reply")]
    CommentsReply,
    /// The account's activity log.
    #[serde(rename = "audit.view")]
    AuditView,
    /// Invite, change, remove editors, moderators, analysts, viewers.
    #[serde(rename = "members.manage")]
    MembersManage,
    /// Invite, change, remove admins.
    #[serde(rename = "admins.manage")]
    AdminsManage,
    /// Account settings and house rules.
    #[serde(rename = "settings.manage")]
    SettingsManage,
    #[serde(rename = "lockdown")]
    Lockdown,
    /// Connect, reconnect, disconnect the platform credential.
    #[serde(rename = "credential.manage")]
    CredentialManage,
    /// Transfer ownership, delete the account.
    #[serde(rename = "ownership.transfer")]
    OwnershipTransfer,
}

impl Capability {
    /// Every capability, in DESIGN.md's table order (which is also the bit order of
    /// [`CapabilitySet`]).
    pub const ALL: [Capability; 15] = [
        Capability::AccountView,
        Capability::AnalyticsView,
        Capability::DraftsCreate,
        Capability::DraftsEditAny,
        Capability::ReviewComment,
        Capability::PostsApprove,
        Capability::PostsPublish,
        Capability::CommentsReply,
        Capability::AuditView,
        Capability::MembersManage,
        Capability::AdminsManage,
        Capability::SettingsManage,
        Capability::Lockdown,
        Capability::CredentialManage,
        Capability::OwnershipTransfer,
    ];

    /// The capability's name in the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::AccountView => "account.view",
            Capability::AnalyticsView => "analytics.view",
            Capability::DraftsCreate => "drafts.create",
            Capability::DraftsEditAny => "drafts.edit_any",
            Capability::ReviewComment => "review.comment",
            Capability::PostsApprove => "posts.approve",
            Capability::PostsPublish => "posts.publish",
            Capability::CommentsReply => "comments.reply",
            Capability::AuditView => "audit.view",
            Capability::MembersManage => "members.manage",
            Capability::AdminsManage => "admins.manage",
            Capability::SettingsManage => "settings.manage",
            Capability::Lockdown => "lockdown",
            Capability::CredentialManage => "credential.manage",
            Capability::OwnershipTransfer => "ownership.transfer",
        }
    }

    /// Whether only the account's owner can ever hold this capability. See
    /// [`CapabilitySet::OWNER_ONLY`].
    #[must_use]
    pub const fn is_owner_only(self) -> bool {
        CapabilitySet::OWNER_ONLY.contains(self)
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capability name that is not one of the fifteen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}`")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|capability| capability.as_str() == name)
            .ok_or_else(|| UnknownCapability(name.to_owned()))
    }
}

/// A set of capabilities, as a bitset so that checks are a mask test and the set is `Copy`.
///
/// Serialised as a list of capability names sorted alphabetically, so that the same set always
/// has the same JSON (stable diffs in audit details and snapshots).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapabilitySet(u16);

impl CapabilitySet {
    pub const EMPTY: CapabilitySet = CapabilitySet(0);
    pub const ALL: CapabilitySet = CapabilitySet::from_slice(&Capability::ALL);

    /// Capabilities that no one but the owner may hold, whatever the role or the grants.
    ///
    /// Invariant 1 ("One owner"): nobody but the owner can touch the platform credential
    /// (`credential.manage`) or transfer ownership / delete the account (`ownership.transfer`).
    /// `admins.manage` is here too because whoever manages admins can demote or remove every
    /// admin and appoint new ones, i.e. take control of the account away from the owner's
    /// chosen deputies; only the owner decides who administers the account.
    pub const OWNER_ONLY: CapabilitySet = CapabilitySet::from_slice(&[
        Capability::CredentialManage,
        Capability::OwnershipTransfer,
        Capability::AdminsManage,
    ]);

    #[must_use]
    pub const fn from_slice(capabilities: &[Capability]) -> CapabilitySet {
        let mut bits = 0;
        let mut i = 0;
        while i < capabilities.len() {
            bits |= capabilities[i].bit();
            i += 1;
        }
        CapabilitySet(bits)
    }

    #[must_use]
    pub const fn contains(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    /// Whether every capability of `other` is in `self`.
    #[must_use]
    pub const fn contains_all(self, other: CapabilitySet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, capability: Capability) {
        self.0 |= capability.bit();
    }

    pub fn remove(&mut self, capability: Capability) {
        self.0 &= !capability.bit();
    }

    #[must_use]
    pub const fn with(self, capability: Capability) -> CapabilitySet {
        CapabilitySet(self.0 | capability.bit())
    }

    #[must_use]
    pub const fn without(self, capability: Capability) -> CapabilitySet {
        CapabilitySet(self.0 & !capability.bit())
    }

    #[must_use]
    pub const fn union(self, other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(self.0 | other.0)
    }

    #[must_use]
    pub const fn intersection(self, other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(self.0 & other.0)
    }

    /// The capabilities of `self` that are not in `other`.
    #[must_use]
    pub const fn difference(self, other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(self.0 & !other.0)
    }

    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    #[must_use]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The capabilities in table order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |capability| self.contains(*capability))
    }

    /// The API names, sorted alphabetically (the serialised form).
    #[must_use]
    pub fn sorted_names(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.iter().map(Capability::as_str).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for CapabilitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Capability::as_str)).finish()
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::EMPTY;
        for capability in iter {
            set.insert(capability);
        }
        set
    }
}

impl From<Capability> for CapabilitySet {
    fn from(capability: Capability) -> Self {
        CapabilitySet(capability.bit())
    }
}

impl Serialize for CapabilitySet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.sorted_names())
    }
}

impl<'de> Deserialize<'de> for CapabilitySet {
    /// Accepts the names in any order; a repeated name is harmless and is not an error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let capabilities = Vec::<Capability>::deserialize(deserializer)?;
        Ok(capabilities.into_iter().collect())
    }
}

/// A member's role on an account: a named preset of capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Editor,
    Moderator,
    Analyst,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::Owner, Role::Admin, Role::Editor, Role::Moderator, Role::Analyst, Role::Viewer];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Moderator => "moderator",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    /// The role's capabilities before any membership overrides (DESIGN.md's table).
    #[must_use]
    pub const fn preset(self) -> CapabilitySet {
        use Capability::*;
        match self {
            Role::Owner => CapabilitySet::ALL,
            Role::Admin => CapabilitySet::from_slice(&[
                AccountView,
                AnalyticsView,
                DraftsCreate,
                DraftsEditAny,
                ReviewComment,
                PostsApprove,
                PostsPublish,
                CommentsReply,
                AuditView,
                MembersManage,
                SettingsManage,
                Lockdown,
            ]),
            Role::Editor => CapabilitySet::from_slice(&[AccountView, AnalyticsView, DraftsCreate, ReviewComment]),
            Role::Moderator => CapabilitySet::from_slice(&[AccountView, ReviewComment, CommentsReply]),
            Role::Analyst => CapabilitySet::from_slice(&[AccountView, AnalyticsView]),
            Role::Viewer => CapabilitySet::from_slice(&[AccountView]),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|role| role.as_str() == name).ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

/// Why a membership's capability overrides are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("`{capability}` can only be held by the account's owner, not by a member with role `{role}`")]
    OwnerOnlyCapability { capability: Capability, role: Role },
    #[error("the owner's capabilities cannot be revoked (`{capability}`)")]
    OwnerCapabilityNotRevocable { capability: Capability },
    #[error("`{capability}` is both granted and revoked")]
    GrantedAndRevoked { capability: Capability },
    /// Granting what one does not hold would let a member manager mint rights above their own.
    #[error("you cannot grant `{capability}` because you do not hold it yourself")]
    GrantExceedsGranter { capability: Capability },
}

/// Checks a membership's `grant`/`revoke` lists against the member's role.
///
/// Granting an owner-only capability to a non-owner is refused with a typed error rather than
/// silently dropped, so that an admin (or the owner) learns that the grant had no effect.
pub fn validate_overrides(role: Role, grants: CapabilitySet, revokes: CapabilitySet) -> Result<(), OverrideError> {
    if let Some(capability) = grants.intersection(revokes).iter().next() {
        return Err(OverrideError::GrantedAndRevoked { capability });
    }
    if role == Role::Owner {
        if let Some(capability) = revokes.iter().next() {
            return Err(OverrideError::OwnerCapabilityNotRevocable { capability });
        }
        return Ok(());
    }
    if let Some(capability) = grants.intersection(CapabilitySet::OWNER_ONLY).iter().next() {
        return Err(OverrideError::OwnerOnlyCapability { capability, role });
    }
    Ok(())
}

/// Checks that someone who sets a membership's grants holds each granted capability
/// themself (run together with [`validate_overrides`] when a member manager edits a member).
pub fn validate_grants_within_granter(
    granter_capabilities: CapabilitySet,
    grants: CapabilitySet,
) -> Result<(), OverrideError> {
    match grants.difference(granter_capabilities).iter().next() {
        Some(capability) => Err(OverrideError::GrantExceedsGranter { capability }),
        None => Ok(()),
    }
}

/// What a member may actually do: the role's preset plus grants, minus revokes.
///
/// This is total (it never fails) so that it can be applied to whatever is stored; it
/// fails closed where stored overrides are not what [`validate_overrides`] would accept:
/// owner-only capabilities are stripped from non-owners, and a capability that is both
/// granted and revoked is revoked. The owner always holds everything: revoking from the
/// owner has no effect, because the owner is the one person who must always be able to take
/// access back (Invariant 1).
#[must_use]
pub fn effective_capabilities(role: Role, grants: CapabilitySet, revokes: CapabilitySet) -> CapabilitySet {
    if role == Role::Owner {
        return CapabilitySet::ALL;
    }
    role.preset().union(grants).difference(revokes).difference(CapabilitySet::OWNER_ONLY)
}

/// A member's role together with their effective capabilities: what authorization rules that
/// depend on both (managing members, approving posts) are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRights {
    pub role: Role,
    pub capabilities: CapabilitySet,
}

impl MemberRights {
    #[must_use]
    pub fn new(role: Role, grants: CapabilitySet, revokes: CapabilitySet) -> MemberRights {
        MemberRights { role, capabilities: effective_capabilities(role, grants, revokes) }
    }

    /// The rights of a role with no overrides.
    #[must_use]
    pub fn of_role(role: Role) -> MemberRights {
        MemberRights::new(role, CapabilitySet::EMPTY, CapabilitySet::EMPTY)
    }

    #[must_use]
    pub const fn has(&self, capability: Capability) -> bool {
        self.capabilities.contains(capability)
    }

    #[must_use]
    pub fn is_owner(&self) -> bool {
        self.role == Role::Owner
    }
}

/// Whether `actor` may invite, change or remove a member whose role is `target_role`.
///
/// Admins are managed with `admins.manage`; editors, moderators, analysts and viewers with
/// `members.manage`. Nobody manages the owner: the owner's role changes only through an
/// ownership transfer (Invariant 1).
#[must_use]
pub fn can_manage_role(actor: &MemberRights, target_role: Role) -> bool {
    match target_role {
        Role::Owner => false,
        Role::Admin => actor.has(Capability::AdminsManage),
        Role::Editor | Role::Moderator | Role::Analyst | Role::Viewer => actor.has(Capability::MembersManage),
    }
}

/// Whether `actor` may change a member's role from `from` to `to`: both the old and the new
/// role must be manageable, so that promoting an editor to admin (or demoting an admin) needs
/// `admins.manage`, and nobody can make someone owner this way.
#[must_use]
pub fn can_change_role(actor: &MemberRights, from: Role, to: Role) -> bool {
    can_manage_role(actor, from) && can_manage_role(actor, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product design itself: its "Roles and capabilities" table is what the presets are
    /// checked against, so the document and the code cannot drift apart.
    const DESIGN: &str = include_str!("../../../docs/DESIGN.md");

    /// The rows of docs/DESIGN.md's roles table, header and separator included.
    fn design_table_lines() -> impl Iterator<Item = &'static str> {
        DESIGN
            .lines()
            .skip_while(|line| !line.starts_with("| capability (name in the API) |"))
            .take_while(|line| line.starts_with('|'))
    }

    fn parse_design_table() -> (Vec<Role>, Vec<(Capability, Vec<bool>)>) {
        let mut lines = design_table_lines();
        let cells = |line: &str| -> Vec<String> {
            line.trim().trim_matches('|').split('|').map(|cell| cell.trim().to_owned()).collect()
        };
        let header = cells(lines.next().expect("header row"));
        let roles: Vec<Role> = header[1..].iter().map(|name| name.parse().expect("role name")).collect();
        lines.next().expect("separator row");
        let rows = lines
            .map(|line| {
                let row = cells(line);
                // "`account.view` — the account, …": the name is the backquoted part.
                let name = row[0].split('`').nth(1).expect("backquoted capability name");
                let capability: Capability = name.parse().expect("capability name");
                let marks = row[1..]
                    .iter()
                    .map(|cell| match cell.as_str() {
                        "✓" => true,
                        "" => false,
                        other => panic!("unexpected cell {other:?}"),
                    })
                    .collect::<Vec<_>>();
                assert_eq!(marks.len(), roles.len(), "row for {capability}");
                (capability, marks)
            })
            .collect();
        (roles, rows)
    }

    #[test]
    fn role_presets_match_the_design_table() {
        let (roles, rows) = parse_design_table();
        assert_eq!(roles, Role::ALL);
        let listed: Vec<Capability> = rows.iter().map(|(capability, _)| *capability).collect();
        assert_eq!(listed, Capability::ALL, "the table lists every capability once, in order");
        for (capability, marks) in &rows {
            for (role, expected) in roles.iter().zip(marks) {
                assert_eq!(role.preset().contains(*capability), *expected, "{role} × {capability}");
            }
        }
    }

    #[test]
    fn capability_names_round_trip_through_str_and_serde() {
        for capability in Capability::ALL {
            assert_eq!(capability.as_str().parse::<Capability>(), Ok(capability));
            let json = serde_json::to_string(&capability).expect("serialise");
            assert_eq!(json, format!("\"{}\"", capability.as_str()));
            let back: Capability = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, capability);
        }
        assert_eq!("posts.delete".parse::<Capability>(), Err(UnknownCapability("posts.delete".into())));
        assert!(serde_json::from_str::<Capability>("\"Posts.Approve\"").is_err());
    }

    #[test]
    fn role_names_round_trip_through_str_and_serde() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).expect("serialise");
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).expect("deserialise"), role);
        }
        assert_eq!("superuser".parse::<Role>(), Err(UnknownRole("superuser".into())));
    }

    #[test]
    fn capability_set_operations() {
        let mut set = CapabilitySet::EMPTY;
        assert!(set.is_empty());
        set.insert(Capability::PostsPublish);
        set.insert(Capability::AccountView);
        set.insert(Capability::AccountView);
        assert_eq!(set.len(), 2);
        assert!(set.contains(Capability::PostsPublish));
        assert!(!set.contains(Capability::PostsApprove));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![Capability::AccountView, Capability::PostsPublish]);
        set.remove(Capability::PostsPublish);
        assert_eq!(set, CapabilitySet::from(Capability::AccountView));

        let a = CapabilitySet::from_slice(&[Capability::AccountView, Capability::Lockdown]);
        let b = CapabilitySet::from_slice(&[Capability::Lockdown, Capability::AuditView]);
        assert_eq!(a.union(b).len(), 3);
        assert_eq!(a.intersection(b), CapabilitySet::from(Capability::Lockdown));
        assert_eq!(a.difference(b), CapabilitySet::from(Capability::AccountView));
        assert!(a.union(b).contains_all(a));
        assert!(!a.contains_all(b));
        assert_eq!(CapabilitySet::ALL.len(), 15);
        assert_eq!(CapabilitySet::ALL.iter().collect::<Vec<_>>(), Capability::ALL);
    }

    #[test]
    fn capability_set_serialises_as_sorted_names() {
        let set = CapabilitySet::from_slice(&[Capability::PostsPublish, Capability::AccountView, Capability::Lockdown]);
        let json = serde_json::to_string(&set).expect("serialise");
        assert_eq!(json, r#"["account.view","lockdown","posts.publish"]"#);
        let back: CapabilitySet =
            serde_json::from_str(r#"["posts.publish","lockdown","account.view","lockdown"]"#).expect("deserialise");
        assert_eq!(back, set);
        assert!(serde_json::from_str::<CapabilitySet>(r#"["account.view","root"]"#).is_err());
        assert_eq!(serde_json::to_string(&CapabilitySet::EMPTY).expect("serialise"), "[]");
    }

    #[test]
    fn grants_add_and_revokes_remove_capabilities() {
        let publish = CapabilitySet::from(Capability::PostsPublish);
        let editor = effective_capabilities(Role::Editor, publish, CapabilitySet::EMPTY);
        assert_eq!(editor, Role::Editor.preset().with(Capability::PostsPublish));

        let no_analytics = CapabilitySet::from(Capability::AnalyticsView);
        let editor = effective_capabilities(Role::Editor, CapabilitySet::EMPTY, no_analytics);
        assert_eq!(editor, Role::Editor.preset().without(Capability::AnalyticsView));

        let admin =
            effective_capabilities(Role::Admin, CapabilitySet::EMPTY, CapabilitySet::from(Capability::Lockdown));
        assert!(!admin.contains(Capability::Lockdown));
        assert!(admin.contains(Capability::MembersManage));
    }

    #[test]
    fn owner_only_capabilities_are_never_effective_for_non_owners() {
        for role in Role::ALL.into_iter().filter(|role| *role != Role::Owner) {
            let caps = effective_capabilities(role, CapabilitySet::ALL, CapabilitySet::EMPTY);
            assert!(caps.intersection(CapabilitySet::OWNER_ONLY).is_empty(), "{role}");
            assert_eq!(caps, CapabilitySet::ALL.difference(CapabilitySet::OWNER_ONLY));
            for capability in CapabilitySet::OWNER_ONLY.iter() {
                assert!(capability.is_owner_only());
                assert_eq!(
                    validate_overrides(role, capability.into(), CapabilitySet::EMPTY),
                    Err(OverrideError::OwnerOnlyCapability { capability, role })
                );
            }
        }
        assert_eq!(
            CapabilitySet::OWNER_ONLY.sorted_names(),
            ["admins.manage", "credential.manage", "ownership.transfer"]
        );
    }

    #[test]
    fn the_owner_keeps_everything() {
        assert_eq!(effective_capabilities(Role::Owner, CapabilitySet::EMPTY, CapabilitySet::ALL), CapabilitySet::ALL);
        assert_eq!(
            validate_overrides(Role::Owner, CapabilitySet::EMPTY, CapabilitySet::from(Capability::Lockdown)),
            Err(OverrideError::OwnerCapabilityNotRevocable { capability: Capability::Lockdown })
        );
        assert_eq!(validate_overrides(Role::Owner, CapabilitySet::ALL, CapabilitySet::EMPTY), Ok(()));
    }

    #[test]
    fn overrides_validation() {
        let publish = CapabilitySet::from(Capability::PostsPublish);
        assert_eq!(validate_overrides(Role::Editor, publish, CapabilitySet::EMPTY), Ok(()));
        assert_eq!(
            validate_overrides(Role::Viewer, CapabilitySet::EMPTY, CapabilitySet::ALL),
            Ok(()),
            "revoking what the role does not have is harmless"
        );
        assert_eq!(
            validate_overrides(Role::Editor, publish, publish),
            Err(OverrideError::GrantedAndRevoked { capability: Capability::PostsPublish })
        );
        // Stored data that slipped past validation still fails closed.
        assert!(!effective_capabilities(Role::Editor, publish, publish).contains(Capability::PostsPublish));
    }

    #[test]
    fn grants_cannot_exceed_the_granter() {
        let admin = MemberRights::new(Role::Admin, CapabilitySet::EMPTY, CapabilitySet::from(Capability::PostsPublish));
        assert_eq!(
            validate_grants_within_granter(admin.capabilities, CapabilitySet::from(Capability::PostsPublish)),
            Err(OverrideError::GrantExceedsGranter { capability: Capability::PostsPublish })
        );
        assert_eq!(
            validate_grants_within_granter(admin.capabilities, CapabilitySet::from(Capability::PostsApprove)),
            Ok(())
        );
    }

    #[test]
    fn manage_rules_per_role() {
        let owner = MemberRights::of_role(Role::Owner);
        let admin = MemberRights::of_role(Role::Admin);
        let editor = MemberRights::of_role(Role::Editor);
        let editor_with_members =
            MemberRights::new(Role::Editor, CapabilitySet::from(Capability::MembersManage), CapabilitySet::EMPTY);
        let admin_without_members =
            MemberRights::new(Role::Admin, CapabilitySet::EMPTY, CapabilitySet::from(Capability::MembersManage));
        let lesser = [Role::Editor, Role::Moderator, Role::Analyst, Role::Viewer];

        for target in lesser {
            assert!(can_manage_role(&owner, target));
            assert!(can_manage_role(&admin, target));
            assert!(can_manage_role(&editor_with_members, target));
            assert!(!can_manage_role(&editor, target));
            assert!(!can_manage_role(&admin_without_members, target));
        }
        assert!(can_manage_role(&owner, Role::Admin));
        assert!(!can_manage_role(&admin, Role::Admin), "admins do not manage each other");
        assert!(!can_manage_role(&editor_with_members, Role::Admin));
        for actor in [owner, admin, editor, editor_with_members] {
            assert!(!can_manage_role(&actor, Role::Owner), "nobody manages the owner");
        }
        // Even a (corrupt) stored grant of admins.manage does not let an admin manage admins.
        let admin_with_grant =
            MemberRights::new(Role::Admin, CapabilitySet::from(Capability::AdminsManage), CapabilitySet::EMPTY);
        assert!(!can_manage_role(&admin_with_grant, Role::Admin));
    }

    #[test]
    fn role_changes_need_rights_over_both_roles() {
        let owner = MemberRights::of_role(Role::Owner);
        let admin = MemberRights::of_role(Role::Admin);
        assert!(can_change_role(&admin, Role::Viewer, Role::Editor));
        assert!(!can_change_role(&admin, Role::Editor, Role::Admin), "promotion to admin");
        assert!(!can_change_role(&admin, Role::Admin, Role::Editor), "demotion of an admin");
        assert!(can_change_role(&owner, Role::Editor, Role::Admin));
        assert!(can_change_role(&owner, Role::Admin, Role::Viewer));
        assert!(!can_change_role(&owner, Role::Editor, Role::Owner), "only by transfer");
        assert!(!can_change_role(&owner, Role::Owner, Role::Admin), "only by transfer");
    }
}
