//! The platforms Steward can act on, and what each kind of account implies.

/// How an owner connects an account of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectMethod {
    /// OAuth 2.0 authorization code flow (`POST /accounts/connect`).
    Oauth,
    /// Credentials given directly (`POST /accounts`): Bluesky app passwords, the sandbox.
    Credentials,
}

impl ConnectMethod {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ConnectMethod::Oauth => "oauth",
            ConnectMethod::Credentials => "credentials",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountKind {
    pub id: &'static str,
    pub name: &'static str,
    /// Users per account, owner included, unless the owner changes it.
    pub default_max_members: i64,
    /// The owner's own approval is needed to publish, and this cannot be switched off
    /// (LinkedIn member profiles: their terms forbid others using a personal account).
    pub owner_approval_required: bool,
    /// A person's own profile: it stays its person's, so its ownership is never transferred.
    pub personal: bool,
}

/// A platform Steward can act on. Code that behaves differently per platform matches on this
/// exhaustively, so adding a platform is a list of compiler errors, not a search for strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    LinkedIn,
    TikTok,
    Mastodon,
    Bluesky,
    Sandbox,
}

impl Platform {
    pub const ALL: [Platform; 5] =
        [Platform::LinkedIn, Platform::TikTok, Platform::Mastodon, Platform::Bluesky, Platform::Sandbox];

    /// The id stored with an account and used in the API (`linkedin`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::LinkedIn => "linkedin",
            Platform::TikTok => "tiktok",
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
            Platform::Sandbox => "sandbox",
        }
    }

    /// The platform a stored id names (`None`: not one of ours).
    #[must_use]
    pub fn parse(id: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == id)
    }

    /// The catalog entry: name, how to connect, kinds of account, text limit.
    #[must_use]
    pub const fn info(self) -> &'static PlatformInfo {
        // PLATFORMS lists the platforms in the enum's order (a test holds it to that).
        &PLATFORMS[self as usize]
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the catalog knows of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub connect: ConnectMethod,
    pub kinds: &'static [AccountKind],
    /// The longest post text the platform takes, in characters (Unicode scalar values, as
    /// [`text_chars`] counts them and as the editor counts them live). Bluesky counts graphemes
    /// and TikTok UTF-16 units; characters are never fewer than graphemes, so the limit is
    /// safe for Bluesky, and its connector checks the exact rule again.
    pub max_text_chars: usize,
}

/// A post text's length as platforms' limits are checked here.
#[must_use]
pub fn text_chars(text: &str) -> usize {
    text.chars().count()
}

pub const PLATFORMS: &[PlatformInfo] = &[
    PlatformInfo {
        id: "linkedin",
        name: "LinkedIn",
        connect: ConnectMethod::Oauth,
        max_text_chars: 3000,
        kinds: &[
            AccountKind {
                id: "member",
                name: "Member profile",
                default_max_members: 5,
                owner_approval_required: true,
                personal: true,
            },
            AccountKind {
                id: "organization",
                name: "Company Page",
                default_max_members: 25,
                owner_approval_required: false,
                personal: false,
            },
        ],
    },
    PlatformInfo {
        id: "tiktok",
        name: "TikTok",
        connect: ConnectMethod::Oauth,
        max_text_chars: 2200,
        // TikTok: owner + 4 (DESIGN.md).
        kinds: &[AccountKind {
            id: "creator",
            name: "Creator account",
            default_max_members: 5,
            owner_approval_required: false,
            personal: false,
        }],
    },
    PlatformInfo {
        id: "mastodon",
        name: "Mastodon",
        connect: ConnectMethod::Oauth,
        max_text_chars: 500,
        kinds: &[AccountKind {
            id: "account",
            name: "Account",
            default_max_members: 10,
            owner_approval_required: false,
            personal: false,
        }],
    },
    PlatformInfo {
        id: "bluesky",
        name: "Bluesky",
        connect: ConnectMethod::Credentials,
        max_text_chars: 300,
        kinds: &[AccountKind {
            id: "account",
            name: "Account",
            default_max_members: 10,
            owner_approval_required: false,
            personal: false,
        }],
    },
    PlatformInfo {
        id: "sandbox",
        name: "Sandbox (local, for trying Steward)",
        connect: ConnectMethod::Credentials,
        max_text_chars: 500,
        kinds: &[AccountKind {
            id: "creator",
            name: "Creator account",
            default_max_members: 5,
            owner_approval_required: false,
            personal: false,
        }],
    },
];

#[must_use]
pub fn platform(id: &str) -> Option<&'static PlatformInfo> {
    PLATFORMS.iter().find(|p| p.id == id)
}

/// The kind of account `kind` on `platform`; `None` picks the platform's only kind.
#[must_use]
pub fn account_kind(platform: &PlatformInfo, kind: Option<&str>) -> Option<&'static AccountKind> {
    let kinds: &'static [AccountKind] = PLATFORMS.iter().find(|p| p.id == platform.id)?.kinds;
    match kind {
        Some(k) => kinds.iter().find(|x| x.id == k),
        None if kinds.len() == 1 => kinds.first(),
        None => None,
    }
}

/// The kind `kind_id` of account on the platform `platform_id`, as an account stores them.
#[must_use]
pub fn kind_of(platform_id: &str, kind_id: &str) -> Option<&'static AccountKind> {
    account_kind(platform(platform_id)?, Some(kind_id))
}

/// Largest `max_members` an owner may set.
pub const MAX_MEMBERS_CEILING: i64 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_matches_the_api_contract() {
        let ids: Vec<(&str, Vec<&str>)> =
            PLATFORMS.iter().map(|p| (p.id, p.kinds.iter().map(|k| k.id).collect())).collect();
        assert_eq!(
            ids,
            vec![
                ("linkedin", vec!["member", "organization"]),
                ("tiktok", vec!["creator"]),
                ("mastodon", vec!["account"]),
                ("bluesky", vec!["account"]),
                ("sandbox", vec!["creator"]),
            ]
        );
        let tiktok = platform("tiktok").and_then(|p| account_kind(p, None)).map(|k| k.default_max_members);
        assert_eq!(tiktok, Some(5));
    }

    #[test]
    fn the_enum_and_the_catalog_name_the_same_platforms_in_one_order() {
        assert_eq!(PLATFORMS.len(), Platform::ALL.len());
        for p in Platform::ALL {
            assert_eq!(p.info().id, p.as_str());
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert_eq!(Platform::parse("myspace"), None);
    }

    #[test]
    fn only_linkedin_member_profiles_are_personal() {
        for p in PLATFORMS {
            for k in p.kinds {
                assert_eq!(k.personal, (p.id, k.id) == ("linkedin", "member"), "{} {}", p.id, k.id);
            }
        }
    }

    #[test]
    fn only_linkedin_member_profiles_force_owner_approval() {
        for p in PLATFORMS {
            for k in p.kinds {
                assert_eq!(k.owner_approval_required, (p.id, k.id) == ("linkedin", "member"), "{} {}", p.id, k.id);
            }
        }
    }

    #[test]
    fn kinds_must_be_named_when_a_platform_has_several() {
        let linkedin = platform("linkedin").expect("linkedin");
        assert!(account_kind(linkedin, None).is_none());
        assert_eq!(account_kind(linkedin, Some("organization")).map(|k| k.id), Some("organization"));
        assert!(account_kind(linkedin, Some("creator")).is_none());
        assert!(platform("myspace").is_none());
    }
}
