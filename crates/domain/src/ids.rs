//! Typed ids of our own rows (`AccountId`, `PostId`, `UserId`, and the ids of invitations,
//! sessions, access tokens, uploaded media, alerts and their deliveries, publish attempts,
//! LinkedIn page choices and notifications): UUID text, one type each, so an
//! account id can never be handed where a post, a person or an alert is meant. None of them is a
//! secret (a session's or token's secret is its token, which is stored hashed and never held in
//! one of these). Ids that are not ours stay text: a platform's own (external post and comment
//! ids), OAuth client ids, device ids.
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a stored or received id (its text is not checked: an unknown id finds nothing).
            #[must_use]
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        /// Reading an id as text (SQL parameters, JSON, log lines) is always allowed; only the
        /// way in is typed.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    };
}

id_type!(
    /// A social account's id.
    AccountId
);
id_type!(
    /// A post's id.
    PostId
);
id_type!(
    /// A person's (user's) id.
    UserId
);
id_type!(
    /// An invitation's id (not its token, which is the secret sent by mail).
    InvitationId
);
id_type!(
    /// A signed-in session's id (not its token, which is the cookie's secret).
    SessionId
);
id_type!(
    /// A personal access token's id (not the token itself).
    TokenId
);
id_type!(
    /// An uploaded media file's id.
    MediaId
);
id_type!(
    /// An alert's id.
    AlertId
);
id_type!(
    /// One queued delivery of an alert (to one person, on one channel).
    DeliveryId
);
id_type!(
    /// One attempt at publishing a post (not the platform's id of what it published).
    AttemptId
);
id_type!(
    /// A pending choice among a LinkedIn member's pages, after the OAuth callback.
    PageChoiceId
);
id_type!(
    /// An in-app notification's id.
    NotificationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_as_their_text_and_serialize_transparently() {
        let id = PostId::new("0192-abc");
        assert_eq!(id.as_str(), "0192-abc");
        assert_eq!(id, "0192-abc");
        assert_eq!(id.to_string(), "0192-abc");
        assert_eq!(serde_json::to_string(&id).expect("json"), "\"0192-abc\"");
        let back: UserId = serde_json::from_str("\"u-1\"").expect("json");
        assert_eq!(back, UserId::from("u-1"));
    }
}
